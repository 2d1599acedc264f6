package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
)

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := new(bytes.Buffer)
		_, _ = buf.ReadFrom(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" key="+r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(buf.Bytes())
	})
}

func TestServeEventTranslatesAPIGatewayV2(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/payments", RawQueryString: "a=1",
		Headers:         map[string]string{"idempotency-key": "k,with,commas"},
		Body:            base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)),
		IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.RequestID = "req-1"
	resp := httpapi.ServeEvent(context.Background(), echo(), ev)
	if resp.StatusCode != http.StatusAccepted || resp.Body != `{"x":1}` || resp.Headers["X-Seen"] != "POST /payments?a=1 key=k,with,commas" {
		t.Fatalf("%+v", resp)
	}
}

func TestLambdaHandlerRoutesDirectInvocations(t *testing.T) {
	var got httpapi.Invocation
	h := httpapi.LambdaHandler(echo(), func(_ context.Context, inv httpapi.Invocation) (any, error) {
		got = inv
		if !inv.Migrate {
			return nil, errors.New("unknown")
		}
		return "migrated", nil
	})
	out, err := h(context.Background(), json.RawMessage(`{"migrate":true}`))
	if err != nil || out != "migrated" || !got.Migrate {
		t.Fatalf("migrate: %v %v", out, err)
	}
	if _, err := h(context.Background(), json.RawMessage(`{"nothing":1}`)); err == nil {
		t.Error("unknown invocation accepted")
	}
	if _, err := h(context.Background(), json.RawMessage(`[1,2]`)); err == nil {
		t.Error("non-object invocation accepted")
	}
	out, err = h(context.Background(), json.RawMessage(`{"version":"2.0","routeKey":"GET /health","rawPath":"/health","requestContext":{"http":{"method":"GET"}}}`))
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("HTTP event: %v %v", out, err)
	}
}

// FuzzParseCreate: no input may panic, and whatever is accepted must be a
// valid request with a positive integer amount, read from a body whose
// top-level names are exactly the documented ones, each at most once, with
// the values the standard decoder sees.
func FuzzParseCreate(f *testing.F) {
	f.Add("key", "application/json", `{"amount":1250,"currency":"EUR","merchantRef":"m-1","customerRef":"c-1"}`)
	f.Add("k", "", `{"amount":1.5,"currency":"EUR","merchantRef":"m","customerRef":"c"}`)
	f.Add("", "text/plain", `{"amount":"1"}`)
	f.Add("k", "application/json; charset=utf-8", `{"amount":9223372036854775808,"currency":"USD","merchantRef":"m","customerRef":"c","sessionId":"s"}`)
	f.Add("k", "", `{"amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c","AMOUNT":1250}`)
	f.Add("k", "", `{"amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c","amount":1250}`)
	f.Add("k", "", `{"\u0061mount":5,"currency":"EUR","merchantRef":"m","customerRef":"c"}`)
	f.Add("k", "", `{"amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c","sessionId":{"a":1}}`)
	f.Fuzz(func(t *testing.T, key, contentType, body string) {
		h := http.Header{}
		h.Set("Idempotency-Key", key)
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		req, err := httpapi.ParseCreate(h, []byte(body))
		if err != nil {
			return
		}
		if req.Amount <= 0 || req.IdempotencyKey == "" || len(req.Currency) != 3 || req.MerchantRef == "" || req.CustomerRef == "" {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
		names := topLevelNames(t, body)
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] || !map[string]bool{"amount": true, "currency": true, "merchantRef": true, "customerRef": true, "sessionId": true}[n] {
				t.Fatalf("accepted a body with names %q", names)
			}
			seen[n] = true
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m["amount"] != json.Number(strconv.FormatInt(req.Amount, 10)) ||
			m["currency"] != req.Currency || m["merchantRef"] != req.MerchantRef || m["customerRef"] != req.CustomerRef {
			t.Fatalf("accepted %+v from %q, which decodes to %v (%v)", req, body, m, err)
		}
	})
}

// topLevelNames lists the member names of the top-level JSON object,
// walking nested values (an oracle independent of ParseCreate's walk).
func topLevelNames(t *testing.T, body string) []string {
	dec := json.NewDecoder(strings.NewReader(body))
	var names []string
	depth, expectName := 0, false
	for {
		tok, err := dec.Token()
		if err != nil {
			return names
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
				expectName = v == '{' && depth == 1
				continue
			}
			depth--
		case string:
			if depth == 1 && expectName {
				names = append(names, v)
				expectName = false
				continue
			}
		}
		expectName = depth == 1
	}
}
