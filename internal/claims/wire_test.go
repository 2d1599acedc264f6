package claims

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// endpoint answers DynamoDB's JSON 1.0 protocol (X-Amz-Target
// "DynamoDB_20120810.<Op>") with the answer fn chooses per call.
type endpoint struct {
	mu    sync.Mutex
	calls []string // "<Op> <first 80 bytes of the body>"
	fn    func(op, body string, n int) (status int, reply string)
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	e.mu.Lock()
	e.calls = append(e.calls, op+" "+string(body))
	n := len(e.calls)
	e.mu.Unlock()
	status, reply := e.fn(op, string(body), n)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	io.WriteString(w, reply)
}

func (e *endpoint) count(op, contains string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.calls {
		if strings.HasPrefix(c, op+" ") && strings.Contains(c, contains) {
			n++
		}
	}
	return n
}

func wireJournal(t *testing.T, url string) *Journal {
	client := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.MaxBackoff = time.Millisecond
		}),
	})
	return &Journal{Client: client, Table: "payment-journal-test", ConflictBackoff: time.Millisecond}
}

// DynamoDB's error body for a type: {"__type": "...#Name", "message": ...}
// (DynamoDB developer guide, "Error handling with DynamoDB").
func awsError(name, msg string) string {
	return `{"__type":"com.amazonaws.dynamodb.v20120810#` + name + `","message":"` + msg + `"}`
}

// ReplicatedWriteConflictException (HTTP 400): "one or more items in the
// request are being modified by a request in another Region" — an MRSC
// table's answer to concurrent writes of one item (DynamoDB developer
// guide, "Multi-Region strong consistency"; API Reference, PutItem
// errors). The claim retries it and then succeeds.
func TestClaimRetriesAReplicatedWriteConflict(t *testing.T) {
	e := &endpoint{}
	conflicts := 2
	e.fn = func(op, body string, n int) (int, string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if op == "PutItem" && strings.Contains(body, `"claim#`) && conflicts > 0 {
			conflicts--
			return 400, awsError("ReplicatedWriteConflictException", "Write conflict in another Region")
		}
		return 200, `{}`
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	j := wireJournal(t, srv.URL)
	got, err := j.Claim(context.Background(), newClaim("k", time.Now()))
	if err != nil || !got.New {
		t.Fatalf("claim: %+v, %v", got, err)
	}
	if n := e.count("PutItem", `"claim#`); n != 3 {
		t.Errorf("claim item written %d times, want 3 (two conflicts, then accepted)", n)
	}
	if n := e.count("DeleteItem", ""); n != 0 {
		t.Errorf("%d deletes after a successful claim", n)
	}
}

// A conflict that outlasts the retries is a rejected write: the journal
// is unavailable, and the time item that was written is removed.
func TestClaimGivesUpOnLastingConflicts(t *testing.T) {
	e := &endpoint{fn: func(op, body string, n int) (int, string) {
		if op == "PutItem" && strings.Contains(body, `"claim#`) {
			return 400, awsError("ReplicatedWriteConflictException", "Write conflict in another Region")
		}
		return 200, `{}`
	}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	j := wireJournal(t, srv.URL)
	_, err := j.Claim(context.Background(), newClaim("k", time.Now()))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want journal unavailable", err)
	}
	if !strings.Contains(err.Error(), "journal unavailable") {
		t.Errorf("message %q does not say the journal is unavailable", err)
	}
	if n := e.count("PutItem", `"claim#`); n != 5 {
		t.Errorf("claim item tried %d times, want 5 (ConflictAttempts default)", n)
	}
	if n := e.count("DeleteItem", `"minute#`); n != 1 {
		t.Errorf("time item deleted %d times, want 1", n)
	}
}

// A Region without a majority: MRSC fails writes and strongly consistent
// reads it cannot replicate (HTTP 500 InternalServerError, which may or
// may not have been applied — DynamoDB API Reference, "Common errors").
// The claim cannot be undone either, so the outcome is unknown, never
// "not applied"; reads fail, and so does a move of the writer record.
func TestNoMajority(t *testing.T) {
	e := &endpoint{fn: func(op, body string, n int) (int, string) {
		return 500, awsError("InternalServerError", "Internal server error")
	}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	j := wireJournal(t, srv.URL)
	ctx := context.Background()
	_, err := j.Claim(ctx, newClaim("k", time.Now()))
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("claim: %v, want outcome unknown", err)
	}
	if _, _, err := j.ReadWriter(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("writer read: %v, want journal unavailable", err)
	}
	if _, err := j.SetWriter(ctx, "us-west-2", 1, "test", time.Now()); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("writer set answered 500: %v, want outcome unknown", err)
	}
	if _, _, err := j.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("get: %v, want journal unavailable", err)
	}
}

// Once the claim's writes are answered with an error and the release
// succeeds, the claim is certainly gone: "not applied" is true.
func TestFailedClaimIsReleased(t *testing.T) {
	e := &endpoint{fn: func(op, body string, n int) (int, string) {
		if op == "PutItem" {
			return 500, awsError("InternalServerError", "Internal server error")
		}
		return 200, `{}`
	}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	j := wireJournal(t, srv.URL)
	_, err := j.Claim(context.Background(), newClaim("k", time.Now()))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("claim: %v, want journal unavailable", err)
	}
	if e.count("DeleteItem", `"claim#`) != 1 || e.count("DeleteItem", `"minute#`) != 1 {
		t.Errorf("release did not delete both items: %v", e.calls)
	}
}

// A claim write answered 500 may have been applied; when the SDK's retry
// of it is then refused (throttled, HTTP 400), the claim is still
// released before "not applied" is answered: the first attempt's item
// may stand.
func TestClaimRefusedAfterAnOpenAttemptIsReleased(t *testing.T) {
	var mu sync.Mutex
	puts := map[string]int{}
	e := &endpoint{fn: func(op, body string, n int) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if op != "PutItem" {
			return 200, `{}`
		}
		kind := "minute#"
		if strings.Contains(body, `"claim#`) {
			kind = "claim#"
		}
		if puts[kind]++; puts[kind] == 1 {
			return 500, awsError("InternalServerError", "Internal server error")
		}
		return 400, awsError("ThrottlingException", "Rate of requests exceeds the allowed throughput.")
	}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	_, err := wireJournal(t, srv.URL).Claim(context.Background(), newClaim("k", time.Now()))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("claim: %v, want journal unavailable once released", err)
	}
	if e.count("PutItem", `"claim#`) != 2 {
		t.Fatalf("the SDK did not retry the claim's write: %v", e.calls)
	}
	if e.count("DeleteItem", `"claim#`) != 1 || e.count("DeleteItem", `"minute#`) != 1 {
		t.Errorf("a claim whose first attempt may stand was not released: %v", e.calls)
	}
}

// A journal that cannot be reached at all (connection refused) took
// nothing: "not applied", without waiting on a release.
func TestUnreachableJournal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	j := wireJournal(t, url)
	_, err = j.Claim(context.Background(), newClaim("k", time.Now()))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("claim: %v, want journal unavailable", err)
	}
}

// A claim whose first answer is lost (HTTP 500 after the write was
// applied) is retried by the SDK and meets its own item: the condition
// fails (ConditionalCheckFailedException, HTTP 400), the consistent read
// finds this claim's payment, and the claim stands, time item and all.
func TestClaimMeetsItsOwnRetriedWrite(t *testing.T) {
	c := newClaim("k", time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC))
	item := c.item(claimKey(c.Key))
	var mu sync.Mutex
	claimPuts := 0
	e := &endpoint{fn: func(op, body string, n int) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case op == "PutItem" && strings.Contains(body, `"claim#`):
			claimPuts++
			if claimPuts == 1 {
				return 500, awsError("InternalServerError", "Internal server error")
			}
			return 400, awsError("ConditionalCheckFailedException", "The conditional request failed")
		case op == "GetItem":
			return 200, itemJSON(t, item)
		}
		return 200, `{}`
	}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	got, err := wireJournal(t, srv.URL).Claim(context.Background(), c)
	if err != nil || !got.New {
		t.Fatalf("claim: %+v, %v; want this claim, new", got, err)
	}
	if n := e.count("DeleteItem", ""); n != 0 {
		t.Errorf("%d deletes: the claim's own items were removed", n)
	}
}

// itemJSON is a GetItem answer holding item, in DynamoDB's JSON.
func itemJSON(t *testing.T, item map[string]types.AttributeValue) string {
	t.Helper()
	out := map[string]map[string]any{}
	for k, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = map[string]any{"S": v.Value}
		case *types.AttributeValueMemberN:
			out[k] = map[string]any{"N": v.Value}
		case *types.AttributeValueMemberB:
			out[k] = map[string]any{"B": v.Value} // []byte: base64, as DynamoDB sends binary
		}
	}
	b, err := json.Marshal(map[string]any{"Item": out})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
