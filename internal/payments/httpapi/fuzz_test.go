package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/memstore"
)

// memory is the in-memory store with a session table and bus that accept
// everything, for fuzzing the whole handler without backends.
type memory struct{ *memstore.Store }

func (m memory) Put(context.Context, payments.Payment) error { return nil }
func (m memory) Ping(context.Context) error                  { return nil }
func (m memory) Publish(_ context.Context, evs []payments.Event) []error {
	return make([]error, len(evs))
}
func (m memory) admin(context.Context, httpapi.Invocation) (any, error) { return "ok", nil }

// FuzzLambdaEvent: any event Lambda might deliver gets a reply with a JSON
// body, never a 500 (a panic would be recovered as one) and never a
// success for a request without the API key.
func FuzzLambdaEvent(f *testing.F) {
	for _, seed := range []string{
		`{"version":"2.0","routeKey":"POST /payments","rawPath":"/payments","headers":{"x-api-key":"k","idempotency-key":"a","content-type":"application/json"},"requestContext":{"http":{"method":"POST"}},"body":"{\"amount\":5,\"currency\":\"USD\",\"merchantRef\":\"m\",\"customerRef\":\"c\"}"}`,
		`{"version":"2.0","routeKey":"GET /health","rawPath":"/health","requestContext":{"http":{"method":"GET"}}}`,
		`{"rawPath":"/payments/0123456789abcdef0123456789abcdef","headers":{"x-api-key":"k"},"requestContext":{"http":{"method":"GET"}}}`,
		`{"rawPath":"/payments","headers":{"x-api-key":"k","idempotency-key":"b"},"requestContext":{"http":{"method":"POST"}},"body":"e30=","isBase64Encoded":true}`,
		`{"rawPath":"/payments","requestContext":{"http":{"method":"P OST"}},"body":"{}"}`,
		`{"rawPath":"//payments/../x","rawQueryString":"%zz","requestContext":{"http":{"method":"GET"}}}`,
		`{"migrate":true}`, `{"sweepOutbox":true}`,
		`[]`, `null`, `{"rawPath":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := memory{memstore.New()}
		h := &httpapi.Handler{APIKey: "k", Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			Service: &payments.Service{Store: m, Sessions: m, Outbox: &payments.Relay{Store: m, Events: m}, Region: "us-east-1"}}
		out, err := httpapi.LambdaHandler(h, m.admin)(context.Background(), raw)
		if err != nil {
			return // an unparsable direct invocation: Lambda reports the error
		}
		resp, ok := out.(events.APIGatewayV2HTTPResponse)
		if !ok {
			return // a direct invocation's result
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, raw, resp.Body)
		}
		if !json.Valid([]byte(resp.Body)) {
			t.Fatalf("non-JSON body %q for %q", resp.Body, raw)
		}
		var ev events.APIGatewayV2HTTPRequest
		_ = json.Unmarshal(raw, &ev)
		keyed := false
		for k, v := range ev.Headers {
			keyed = keyed || strings.EqualFold(k, "x-api-key") && v == "k"
		}
		if resp.StatusCode < 300 && !keyed {
			var probe map[string]any
			_ = json.Unmarshal([]byte(resp.Body), &probe)
			if _, isHealth := probe["dbWritable"]; !isHealth {
				t.Fatalf("success %d without the API key for %q: %s", resp.StatusCode, raw, resp.Body)
			}
		}
	})
}
