package mrsc

import (
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Every answer carries X-Amz-Crc32, the CRC32 of its body, which the
// SDK's DynamoDB client checks (a missing one reads as a mismatch); an
// unknown operation is refused with the JSON 1.0 error shape.
func TestAnswersCarryTheBodysCRC32AndErrorShapes(t *testing.T) {
	e := &endpoint{s: &store{region: east, tables: map[string]Table{tableName: testTable}}}
	for _, c := range []struct {
		target, body, wantType string
		status                 int
	}{
		{"DynamoDB_20120810.Scan", `{"TableName":"x"}`, "UnknownOperationException", 400},
		{"DynamoDB_20120810.GetItem", `{"TableName":"missing","Key":{"pk":{"S":"a"},"sk":{"S":"b"}}}`, "ResourceNotFoundException", 400},
		{"DynamoDB_20120810.PutItem", `{"TableName":"` + tableName + `","Item":{"pk":{"S":"a"}}}`, "ValidationException", 400},
		{"DynamoDB_20120810.Query", `{"TableName":"` + tableName + `","KeyConditionExpression":"pk = :p","FilterExpression":"x = :p","ExpressionAttributeValues":{":p":{"S":"a"}}}`, "ValidationException", 400},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		req.Header.Set("X-Amz-Target", c.target)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != c.status || !strings.Contains(string(body), `#`+c.wantType+`"`) {
			t.Errorf("%s: %d %s, want %d %s", c.target, rec.Code, body, c.status, c.wantType)
		}
		if got := rec.Header().Get("X-Amz-Crc32"); got != strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10) {
			t.Errorf("%s: X-Amz-Crc32 %q does not match the body", c.target, got)
		}
	}
}
