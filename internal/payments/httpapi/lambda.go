package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// Invocation is a direct (non-HTTP) Lambda invocation, allowed only to
// callers with lambda:InvokeFunction: {"migrate": true} applies the
// database migrations and sets up the application user (only the
// migration function, which holds the master credentials, accepts it);
// {"sweepOutbox": true} publishes the outbox's due events and removes
// the journal's expired claims (a schedule sends it);
// {"replayJournal": {"from": RFC 3339, "to": RFC 3339}} completes the
// payments claimed in that window that the database lacks (drctl sends
// it after a failover).
type Invocation struct {
	Migrate       bool                   `json:"migrate"`
	SweepOutbox   bool                   `json:"sweepOutbox"`
	ReplayJournal *payments.ReplayWindow `json:"replayJournal,omitempty"`
	// ReplayWindowAfter asks for the window to replay after a failover
	// from the Region it names ({"replayWindowAfter": {"oldRegion": ...}}).
	ReplayWindowAfter *ReplayWindowRequest `json:"replayWindowAfter,omitempty"`
}

// ReplayWindowRequest names the Region the writer moved from.
type ReplayWindowRequest struct {
	OldRegion string `json:"oldRegion"`
}

// LambdaHandler adapts h to API Gateway HTTP API (payload v2) events, and
// routes direct invocations to admin.
func LambdaHandler(h http.Handler, admin func(context.Context, Invocation) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			RouteKey string `json:"routeKey"`
			RawPath  string `json:"rawPath"`
		}
		_ = json.Unmarshal(raw, &probe)
		if probe.RouteKey == "" && probe.RawPath == "" {
			var inv Invocation
			if err := json.Unmarshal(raw, &inv); err != nil {
				return nil, err
			}
			return admin(ctx, inv)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return ServeEvent(ctx, h, ev), nil
	}
}

// ServeEvent runs one API Gateway event through h.
func ServeEvent(ctx context.Context, h http.Handler, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(ev.Body); err == nil {
			body = b
		}
	}
	u := &url.URL{Path: ev.RawPath, RawQuery: ev.RawQueryString}
	if u.Path == "" {
		u.Path = "/"
	}
	req, _ := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, u.String(), bytes.NewReader(body))
	if req == nil { // only an unparsable method gets here
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		req.Method = "INVALID"
	}
	// API Gateway joins repeated headers with commas; they are passed on
	// as one value, since an Idempotency-Key may itself contain a comma.
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	id := ev.RequestContext.RequestID
	if lc, ok := lambdacontext.FromContext(ctx); ok && id == "" {
		id = lc.AwsRequestID
	}
	req = req.WithContext(WithRequestID(ctx, id))

	rec := &responseBuffer{header: http.Header{}}
	h.ServeHTTP(rec, req)
	headers := map[string]string{}
	for k, v := range rec.header {
		headers[k] = strings.Join(v, ", ")
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: rec.body.String()}
}

// responseBuffer collects a response for the Lambda reply.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *responseBuffer) Header() http.Header { return r.header }
func (r *responseBuffer) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *responseBuffer) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
