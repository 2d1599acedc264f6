package dynamo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// A throttled PutItem is retried by the client's bounded retryer, through
// the SDK's real request and response code.
func TestThrottledPutIsRetried(t *testing.T) {
	var calls atomic.Int32
	var item string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`)
			return
		}
		item = string(body)
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	client := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = 10 * time.Millisecond
		}),
	})
	s := &Sessions{Client: client, Table: "payment-sessions-test"}
	p := payments.Payment{ID: "abc", SessionID: "s-1", Amount: 1250, Currency: "EUR", Status: payments.StatusProcessed, Region: "us-west-2", CreatedAt: time.Unix(1_800_000_000, 0).UTC()}
	if err := s.Put(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2 (throttled, then accepted)", calls.Load())
	}
	for _, want := range []string{`"sessionId":{"S":"s-1"}`, `"amount":{"N":"1250"}`, `"expiresAt":{"N":"1802592000"}`} {
		if !strings.Contains(item, want) {
			t.Errorf("item lacks %s: %s", want, item)
		}
	}
}

// Against dynalite: a later payment's session is not overwritten by an
// earlier one written late, and rewriting the same payment is accepted.
func TestPutNeverRollsASessionBack(t *testing.T) {
	client, table := backends.Dynamo(t)
	s := &Sessions{Client: client, Table: table}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	older := payments.Payment{ID: "older", SessionID: "s-1", Amount: 1, Currency: "EUR", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: t0}
	newer := older
	newer.ID, newer.CreatedAt = "newer", t0.Add(time.Microsecond)
	holds := func(want string) {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
			Key: map[string]types.AttributeValue{"sessionId": &types.AttributeValueMemberS{Value: "s-1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := out.Item["paymentId"].(*types.AttributeValueMemberS); got == nil || got.Value != want {
			t.Errorf("session holds %v, want %s", out.Item["paymentId"], want)
		}
	}
	for _, step := range []struct {
		p    payments.Payment
		want string
	}{{older, "older"}, {newer, "newer"}, {older, "newer"}, {newer, "newer"}} {
		if err := s.Put(ctx, step.p); err != nil {
			t.Fatalf("put %s: %v", step.p.ID, err)
		}
		holds(step.want)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	if err := (&Sessions{Client: client, Table: table + "-absent"}).Ping(ctx); err == nil {
		t.Error("ping of a missing table succeeded")
	}
}
