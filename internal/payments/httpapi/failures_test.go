package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/memstore"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

// Idempotency keys compare byte for byte: case and trailing spaces make
// another key, and nothing of the other payment leaks.
func TestIdempotencyKeysCompareByteForByte(t *testing.T) {
	e := primary(t)
	ids := map[string]bool{}
	// (HTTP trims a header's trailing spaces; the store test covers them.)
	for _, key := range []string{"Order-1", "order-1", "ORDER-1", "Order-1 .", "order-1 ."} {
		r := e.do(t, "POST", "/payments", key, body1, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("key %q: %d %v (another key's payment found)", key, r.status, r.body)
		}
		ids[r.body["id"].(string)] = true
		if r.body["idempotencyKey"] != key {
			t.Errorf("key %q stored as %q", key, r.body["idempotencyKey"])
		}
	}
	if len(ids) != 5 {
		t.Errorf("%d payments for 5 distinct keys", len(ids))
	}
	// The same key (exactly) with another body is a 409 that names no payment.
	other := e.do(t, "POST", "/payments", "order-1", strings.Replace(body1, "1250", "1251", 1), nil)
	if other.status != http.StatusConflict {
		t.Fatalf("reused key: %d %v", other.status, other.body)
	}
	for id := range ids {
		if msg := other.body["error"].(map[string]any)["message"].(string); strings.Contains(msg, id) {
			t.Errorf("409 message reveals a payment id: %s", msg)
		}
	}
}

// A row lock held past the request's deadline: the answer is either a
// certain "not applied" (and then nothing commits when the lock goes) or
// says that the outcome is unknown.
func TestRowLockPastTheDeadlineLeavesNoCommittedPaymentAnswered5xx(t *testing.T) {
	e := primary(t)
	e.handler.Timeout = 3 * time.Second
	e.handler.Service.OnAfterCommitError = nil
	tx, err := e.admin.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// Another transaction holds the key's index record.
	if _, err := tx.Exec(`INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref,
	  session_id, status, region, created_at) VALUES ('ffffffffffffffffffffffffffffffff', 'key-locked', 'h', 1, 'EUR', 'm', 'c', 's', 'processed', 'x', NOW(6))`); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(6 * time.Second)
		_ = tx.Rollback()
		close(released)
	}()
	r := e.do(t, "POST", "/payments", "key-locked", body1, nil)
	<-released
	time.Sleep(500 * time.Millisecond) // a statement still queued on the server would commit now
	committed := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments WHERE idempotency_key = 'key-locked'")
	t.Logf("answer %d %s; committed %d", r.status, errCode(r), committed)
	switch {
	case r.status == http.StatusCreated && committed != 1:
		t.Fatalf("201 but %d payments", committed)
	case r.status >= 500 && errCode(r) != "outcome_unknown" && committed != 0:
		t.Fatalf("answered %d %s (not applied) but the payment committed", r.status, errCode(r))
	case r.status >= 500 && r.status != http.StatusServiceUnavailable:
		t.Fatalf("answered %d", r.status)
	}
}

// A client that gives up does not turn the payment into a 500 or leave it
// without its session and event.
func TestClientThatGoesAwayGetsNo500AndThePaymentCompletes(t *testing.T) {
	e := primary(t)
	e.handler.Timeout = 10 * time.Second
	var statuses []int
	srv := statusServer(t, e, &statuses)
	tx, err := e.admin.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref,
	  session_id, status, region, created_at) VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 'key-gone', 'h', 1, 'EUR', 'm', 'c', 's', 'processed', 'x', NOW(6))`); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(2500*time.Millisecond, func() { _ = tx.Rollback() })
	req, _ := http.NewRequest("POST", srv+"/payments", strings.NewReader(body1))
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Idempotency-Key", "key-gone")
	client := &http.Client{Timeout: 1500 * time.Millisecond}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the client should have given up, got %d", resp.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(e.events.Entries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments WHERE idempotency_key = 'key-gone'"); n != 1 {
		t.Fatalf("%d payments for the abandoned request", n)
	}
	if n := len(e.events.Entries()); n != 1 {
		t.Errorf("%d events for the abandoned request's payment", n)
	}
	// The session put runs beside the event's publication: wait for it too.
	var out *dynamodb.GetItemOutput
	for {
		out, err = e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: map[string]ddbAttr{"sessionId": &ddbS{Value: "s-1"}}})
		if err != nil || len(out.Item) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || len(out.Item) == 0 {
		t.Errorf("no session for the abandoned request's payment: %v", err)
	}
	waitStatuses(t, &statuses, 1)
	if statuses[0] >= 500 {
		t.Errorf("the handler answered %d to a client that went away", statuses[0])
	}
}

// A first attempt that committed but could not write the session or the
// event: the replay completes both.
func TestReplayCompletesTheSessionAndEventTheFirstAttemptLeftUndone(t *testing.T) {
	e := primary(t)
	e.handler.Service.OnAfterCommitError = nil
	good := e.handler.Service.Sessions
	e.handler.Service.Sessions = &dynamo.Sessions{Client: e.ddb, Table: "payment-sessions-absent"}
	e.events.FailNext = 3
	first := e.do(t, "POST", "/payments", "key-undone", body1, nil)
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %v", first.status, first.body)
	}
	if n := len(e.events.Entries()); n != 0 {
		t.Fatalf("setup: %d events", n)
	}
	e.handler.Service.Sessions = good
	again := e.do(t, "POST", "/payments", "key-undone", body1, nil)
	if again.status != http.StatusOK || again.body["id"] != first.body["id"] {
		t.Fatalf("replay: %d %v", again.status, again.body)
	}
	if ev := e.events.Entries(); len(ev) != 1 || !strings.Contains(ev[0].Detail, first.body["id"].(string)) {
		t.Errorf("events after the replay: %+v", ev)
	}
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: map[string]ddbAttr{"sessionId": &ddbS{Value: "s-1"}}})
	if err != nil || len(out.Item) == 0 {
		t.Errorf("no session after the replay: %v", err)
	}
}

// statusServer serves e's handler over real HTTP (so a client that gives
// up cancels the request as net/http does) and records each status the
// handler wrote.
func statusServer(t *testing.T, e *env, statuses *[]int) string {
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, r)
		mu.Lock()
		*statuses = append(*statuses, rec.Code)
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	statusMu = &mu
	return srv.URL
}

var statusMu *sync.Mutex

func waitStatuses(t *testing.T, statuses *[]int, n int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		statusMu.Lock()
		got := len(*statuses)
		statusMu.Unlock()
		if got >= n {
			return
		}
	}
	t.Fatalf("the handler did not return %d requests", n)
}

// A handler configured with an empty API key refuses every request (an
// empty header would otherwise compare equal), on the in-memory store.
func TestEmptyConfiguredAPIKeyRefusesEverything(t *testing.T) {
	m := memory{memstore.New()}
	h := &httpapi.Handler{APIKey: "", Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Service: &payments.Service{Store: m, Sessions: m, Outbox: &payments.Relay{Store: m, Events: m}, Region: "us-east-1"}}
	for _, key := range []string{"", " "} {
		req := httptest.NewRequest("POST", "/payments", strings.NewReader(body1))
		req.Header.Set("Idempotency-Key", "k-empty")
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("x-api-key %q with an empty configured key: %d %s", key, rec.Code, rec.Body)
		}
	}
	if u := m.Unsent(); len(u) != 0 {
		t.Errorf("payments written: %v", u)
	}
}

// A frozen database (SIGSTOP of a private server) makes /health a prompt
// 503 "unreachable" (the probe is bounded), not an answer Route 53 would
// count as a timeout; thawed, it is 200 again.
func TestHealthWithAFrozenDatabaseIs503(t *testing.T) {
	srv := backends.StartMariaDB(t)
	app, _, _ := paymentstest.DatabaseOn(t, srv.AppDSN, srv.AdminDSN)
	ddb, table := backends.Dynamo(t)
	store := mysqlstore.New(app)
	h := &httpapi.Handler{APIKey: apiKey, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Service: &payments.Service{Store: store, Sessions: &dynamo.Sessions{Client: ddb, Table: table}, Region: "us-east-1"}}
	health := func() (int, string) {
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
		t.Logf("/health %d in %v: %s", rec.Code, time.Since(start), strings.TrimSpace(rec.Body.String()))
		return rec.Code, rec.Body.String()
	}
	if code, _ := health(); code != http.StatusOK {
		t.Fatalf("healthy: %d", code)
	}
	if err := srv.Freeze(); err != nil {
		t.Fatal(err)
	}
	code, body := health()
	if err := srv.Thaw(); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"dbError":"unreachable"`) {
		t.Errorf("frozen database: %d %s", code, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := health(); code == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("still %d after the thaw", code)
		}
	}
}
