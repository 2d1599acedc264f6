package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

const apiKey = "test-api-key-0123456789"

// env is one Region's service wired to real local backends.
type env struct {
	srv     *httptest.Server
	handler *httpapi.Handler
	app     *sql.DB // the service's own user (read_only applies)
	admin   *sql.DB
	ddb     *dynamodb.Client
	table   string
	events  *backends.EventBus
}

func newEnv(t testing.TB, appVar, adminVar string) *env {
	t.Helper()
	app, admin, _ := paymentstest.Database(t, appVar, adminVar)
	ddb, table := backends.Dynamo(t)
	eb := backends.NewEventBridge(t)
	store := mysqlstore.New(app)
	svc := &payments.Service{
		Store:    store,
		Sessions: &dynamo.Sessions{Client: ddb, Table: table},
		Outbox: &payments.Relay{Store: store,
			Events:  &eventbus.Publisher{Client: eb.Client(), Bus: "payment-events-us-east-1-test", Region: "us-east-1"},
			OnError: func(what string, ids []string, err error) { t.Logf("outbox: %s %v: %v", what, ids, err) }},
		Region: "us-east-1",
		OnAfterCommitError: func(p payments.Payment, what string, err error) {
			t.Errorf("after-commit %s failed for %s: %v", what, p.ID, err)
		},
	}
	h := &httpapi.Handler{Service: svc, APIKey: apiKey, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{srv: srv, handler: h, app: app, admin: admin, ddb: ddb, table: table, events: eb}
}

func primary(t testing.TB) *env {
	return newEnv(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *env) do(t *testing.T, method, path, key, body string, hdr map[string]string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: non-JSON reply %d %q", method, path, resp.StatusCode, raw)
	}
	return reply{resp.StatusCode, resp.Header, m}
}

func errCode(r reply) string {
	e, _ := r.body["error"].(map[string]any)
	return fmt.Sprint(e["code"])
}

const body1 = `{"amount":1250,"currency":"EUR","merchantRef":"m-1","customerRef":"c-1","sessionId":"s-1"}`

func TestHappyPathWritesPaymentLedgerSessionAndEvent(t *testing.T) {
	e := primary(t)
	r := e.do(t, "POST", "/payments", "key-happy", body1, nil)
	if r.status != http.StatusCreated || r.body["status"] != "processed" || r.body["amount"] != 1250.0 || r.body["currency"] != "EUR" {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	id := r.body["id"].(string)
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments WHERE id = ? AND amount = 1250", id); n != 1 {
		t.Errorf("payments rows %d", n)
	}
	var debit, credit int64
	if err := e.admin.QueryRow(`SELECT
	  SUM(CASE WHEN direction='debit' THEN amount ELSE 0 END), SUM(CASE WHEN direction='credit' THEN amount ELSE 0 END)
	  FROM ledger_entries WHERE payment_id = ?`, id).Scan(&debit, &credit); err != nil {
		t.Fatal(err)
	}
	if debit != 1250 || credit != 1250 {
		t.Errorf("ledger debit %d credit %d, want 1250 each", debit, credit)
	}
	item, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.table),
		Key: map[string]ddbAttr{"sessionId": &ddbS{Value: "s-1"}}})
	if err != nil || item.Item["paymentId"] == nil {
		t.Fatalf("session item: %v %v", err, item)
	}
	if got := item.Item["paymentId"].(*ddbS).Value; got != id {
		t.Errorf("session paymentId %s, want %s", got, id)
	}
	ev := e.events.Entries()
	if len(ev) != 1 || ev[0].DetailType != "Payment Processed" || ev[0].Source != "custom.payment" || ev[0].EventBusName != "payment-events-us-east-1-test" {
		t.Fatalf("events %+v", ev)
	}
	var detail eventbus.Detail
	if err := json.Unmarshal([]byte(ev[0].Detail), &detail); err != nil || detail.OriginRegion != "us-east-1" || detail.Payment.ID != id {
		t.Errorf("detail %s (%v)", ev[0].Detail, err)
	}
	g := e.do(t, "GET", "/payments/"+id, "", "", nil)
	if g.status != http.StatusOK || g.body["id"] != id || g.body["merchantRef"] != "m-1" {
		t.Errorf("get: %d %v", g.status, g.body)
	}
}

func TestValidationErrorsAre4xxWithCodes(t *testing.T) {
	e := primary(t)
	cases := []struct {
		name, method, path, key, body string
		hdr                           map[string]string
		status                        int
		code                          string
	}{
		{"no key", "POST", "/payments", "", body1, nil, 400, "missing_idempotency_key"},
		{"key too long", "POST", "/payments", strings.Repeat("k", 256), body1, nil, 400, "invalid_idempotency_key"},
		{"zero amount", "POST", "/payments", "k1", `{"amount":0,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"negative", "POST", "/payments", "k2", `{"amount":-5,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"float", "POST", "/payments", "k3", `{"amount":12.5,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"string amount", "POST", "/payments", "k4", `{"amount":"12","currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"exponent", "POST", "/payments", "k4e", `{"amount":1e3,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"missing amount", "POST", "/payments", "k5", `{"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"overflow", "POST", "/payments", "k6", `{"amount":99999999999999999999,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_amount"},
		{"currency", "POST", "/payments", "k7", `{"amount":1,"currency":"XXX","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_currency"},
		{"lower-case currency", "POST", "/payments", "k8", `{"amount":1,"currency":"eur","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_currency"},
		{"merchant", "POST", "/payments", "k9", `{"amount":1,"currency":"EUR","merchantRef":"","customerRef":"c"}`, nil, 400, "invalid_merchant_ref"},
		{"customer", "POST", "/payments", "k10", `{"amount":1,"currency":"EUR","merchantRef":"m","customerRef":"c d"}`, nil, 400, "invalid_customer_ref"},
		{"session", "POST", "/payments", "k11", `{"amount":1,"currency":"EUR","merchantRef":"m","customerRef":"c","sessionId":"` + strings.Repeat("s", 129) + `"}`, nil, 400, "invalid_session_id"},
		{"duplicate field", "POST", "/payments", "k12d", `{"amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c","amount":1250}`, nil, 400, "invalid_json"},
		{"field in other case", "POST", "/payments", "k12c", `{"amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c","AMOUNT":1250}`, nil, 400, "invalid_json"},
		{"field only in other case", "POST", "/payments", "k12o", `{"Amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, nil, 400, "invalid_json"},
		{"escaped duplicate", "POST", "/payments", "k12e", `{"amount":5,"currency":"EUR","merchantRef":"m","customerRef":"c","\u0061mount":7}`, nil, 400, "invalid_json"},
		{"unknown field", "POST", "/payments", "k12", `{"amount":1,"currency":"EUR","merchantRef":"m","customerRef":"c","card":"4111"}`, nil, 400, "invalid_json"},
		{"not JSON", "POST", "/payments", "k13", `amount=1`, nil, 400, "invalid_json"},
		{"trailing data", "POST", "/payments", "k14", body1 + `{}`, nil, 400, "invalid_json"},
		{"media type", "POST", "/payments", "k15", body1, map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
		{"too large", "POST", "/payments", "k16", `{"amount":1,"currency":"EUR","merchantRef":"m","customerRef":"` + strings.Repeat("c", httpapi.MaxBodyBytes) + `"}`, nil, 413, "body_too_large"},
		{"no api key", "POST", "/payments", "k17", body1, map[string]string{"X-Api-Key": ""}, 401, "unauthorized"},
		{"wrong api key", "GET", "/payments/0123456789abcdef0123456789abcdef", "", "", map[string]string{"X-Api-Key": "nope"}, 401, "unauthorized"},
		{"bad id", "GET", "/payments/not-an-id", "", "", nil, 400, "invalid_id"},
		{"unknown id", "GET", "/payments/0123456789abcdef0123456789abcdef", "", "", nil, 404, "not_found"},
		{"method", "DELETE", "/payments", "", "", nil, 405, "method_not_allowed"},
		{"route", "GET", "/refunds", "", "", nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.key, tc.body, tc.hdr)
			if r.status != tc.status || errCode(r) != tc.code {
				t.Errorf("got %d %s, want %d %s (%v)", r.status, errCode(r), tc.status, tc.code, r.body)
			}
		})
	}
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); n != 0 {
		t.Errorf("%d payments written by invalid requests", n)
	}
}

func TestReplayReturnsTheOriginalAndConflictingBodyIs409(t *testing.T) {
	e := primary(t)
	first := e.do(t, "POST", "/payments", "key-replay", body1, nil)
	again := e.do(t, "POST", "/payments", "key-replay", body1, nil)
	if first.status != 201 || again.status != 200 || again.body["id"] != first.body["id"] || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v / %d %v", first.status, first.body["id"], again.status, again.body["id"])
	}
	other := e.do(t, "POST", "/payments", "key-replay", strings.Replace(body1, "1250", "1251", 1), nil)
	if other.status != http.StatusConflict || errCode(other) != "idempotency_key_reused" {
		t.Fatalf("reused key, other body: %d %v", other.status, other.body)
	}
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); n != 1 {
		t.Errorf("%d payments, want 1", n)
	}
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM ledger_entries"); n != 2 {
		t.Errorf("%d ledger entries, want 2", n)
	}
	if n := len(e.events.Entries()); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

func TestFiftyConcurrentDuplicatesChargeOnce(t *testing.T) {
	e := primary(t)
	const n = 50
	var wg sync.WaitGroup
	ids := make([]string, n)
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.do(t, "POST", "/payments", "key-concurrent", body1, nil)
			statuses[i] = r.status
			ids[i], _ = r.body["id"].(string)
		}(i)
	}
	wg.Wait()
	created := 0
	for i := range ids {
		if statuses[i] == 201 {
			created++
		} else if statuses[i] != 200 {
			t.Errorf("request %d: status %d", i, statuses[i])
		}
		if ids[i] != ids[0] || ids[i] == "" {
			t.Errorf("request %d got payment %q, request 0 got %q", i, ids[i], ids[0])
		}
	}
	if created != 1 {
		t.Errorf("%d requests created a payment, want exactly 1", created)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); c != 1 {
		t.Errorf("%d payment rows, want 1", c)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM ledger_entries WHERE payment_id = ?", ids[0]); c != 2 {
		t.Errorf("%d ledger entries, want one pair", c)
	}
	if c := len(e.events.Entries()); c != 1 {
		t.Errorf("%d events, want 1", c)
	}
}

func TestDeclinedPaymentIsRecordedWithoutLedger(t *testing.T) {
	e := primary(t)
	r := e.do(t, "POST", "/payments", "key-big", `{"amount":100000001,"currency":"USD","merchantRef":"m","customerRef":"c"}`, nil)
	if r.status != http.StatusPaymentRequired || r.body["status"] != "failed" || r.body["failureReason"] != "amount_over_limit" {
		t.Fatalf("declined: %d %v", r.status, r.body)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM ledger_entries"); c != 0 {
		t.Errorf("declined payment moved money: %d ledger entries", c)
	}
	if ev := e.events.Entries(); len(ev) != 1 || ev[0].DetailType != "Payment Failed" {
		t.Errorf("events %+v", ev)
	}
}

func TestEventIsPublishedOnlyAfterCommit(t *testing.T) {
	e := primary(t)
	// When EventBridge receives the event, the payment must already be
	// visible to another connection, i.e. committed.
	var visible []int
	e.events.OnEvent = func(ev backends.Event) {
		var d eventbus.Detail
		_ = json.Unmarshal([]byte(ev.Detail), &d)
		visible = append(visible, paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments WHERE id = ?", d.Payment.ID))
	}
	if r := e.do(t, "POST", "/payments", "key-order", body1, nil); r.status != 201 {
		t.Fatalf("create: %d", r.status)
	}
	if len(visible) != 1 || visible[0] != 1 {
		t.Fatalf("payment visible to others when its event was published: %v", visible)
	}
}

func TestEventBridgeThrottlingAndFailedEntriesAreRetried(t *testing.T) {
	e := primary(t)
	e.events.Throttle = 1
	e.events.FailNext = 1
	if r := e.do(t, "POST", "/payments", "key-retry", body1, nil); r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	if ev := e.events.Entries(); len(ev) != 1 {
		t.Fatalf("%d events after retries, want 1", len(ev))
	}
	if e.events.CallCount() != 3 {
		t.Errorf("%d PutEvents calls, want 3 (throttled, failed entry, accepted)", e.events.CallCount())
	}
}

func TestReadOnlyDatabaseGives503AndWritesNothing(t *testing.T) {
	// The "secondary" server: the service's user cannot bypass read_only,
	// like the application on an Aurora secondary before promotion.
	e := newEnv(t, backends.EnvMySQLSecondaryDSN, backends.EnvMySQLSecondaryAdminDSN)
	setReadOnly := func(on bool) {
		v := 0
		if on {
			v = 1
		}
		if _, err := e.admin.Exec(fmt.Sprintf("SET GLOBAL read_only = %d", v)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setReadOnly(true) })

	h := e.do(t, "GET", "/health", "", "", map[string]string{"X-Api-Key": ""})
	if h.status != http.StatusServiceUnavailable || h.body["dbWritable"] != false || h.body["tableReachable"] != true ||
		h.body["dbError"] != "read_only" || h.header.Get("Retry-After") == "" {
		t.Fatalf("health of a read-only Region: %d %v", h.status, h.body)
	}
	r := e.do(t, "POST", "/payments", "key-ro-1", body1, nil)
	if r.status != http.StatusServiceUnavailable || errCode(r) != "region_read_only" || r.header.Get("Retry-After") == "" {
		t.Fatalf("write to read-only: %d %v", r.status, r.body)
	}

	// Promoted: writes succeed and /health turns 200.
	setReadOnly(false)
	if r := e.do(t, "POST", "/payments", "key-ro-2", body1, nil); r.status != http.StatusCreated {
		t.Fatalf("after promotion: %d %v", r.status, r.body)
	}
	if h := e.do(t, "GET", "/health", "", "", map[string]string{"X-Api-Key": ""}); h.status != 200 || h.body["status"] != "ok" || h.body["region"] != "us-east-1" {
		t.Fatalf("health of the writer: %d %v", h.status, h.body)
	}

	// Demoted mid-run (a switchover away from this Region).
	setReadOnly(true)
	r = e.do(t, "POST", "/payments", "key-ro-3", strings.Replace(body1, "s-1", "s-3", 1), nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("after demotion: %d %v", r.status, r.body)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); c != 1 {
		t.Errorf("%d payments, want only the one written while writable", c)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM ledger_entries"); c != 2 {
		t.Errorf("%d ledger entries, want 2", c)
	}
	if c := len(e.events.Entries()); c != 1 {
		t.Errorf("%d events, want 1 (none for rejected writes)", c)
	}
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: map[string]ddbAttr{"sessionId": &ddbS{Value: "s-3"}}})
	if err != nil || len(out.Item) != 0 {
		t.Errorf("session item written for a rejected payment: %v %v", out.Item, err)
	}
}

// A transaction that fails after the payment row is inserted (here a
// trigger refuses the ledger entries) rolls back: no row, no ledger entry,
// no session, no event, and the idempotency key is not used up.
func TestRollbackPublishesNothingAndKeepsTheKeyFree(t *testing.T) {
	e := primary(t)
	e.handler.Service.OnAfterCommitError = nil
	if _, err := e.admin.Exec(`CREATE TRIGGER refuse_ledger BEFORE INSERT ON ledger_entries FOR EACH ROW
	  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger refused by test'`); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "POST", "/payments", "key-rollback", body1, nil)
	if r.status != http.StatusInternalServerError || errCode(r) != "internal" {
		t.Fatalf("failed transaction: %d %v", r.status, r.body)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); c != 0 {
		t.Errorf("%d payment rows after a rolled-back transaction", c)
	}
	if c := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM ledger_entries"); c != 0 {
		t.Errorf("%d ledger entries after a rolled-back transaction", c)
	}
	if c := len(e.events.Entries()); c != 0 {
		t.Errorf("%d events published for a rolled-back payment", c)
	}
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: map[string]ddbAttr{"sessionId": &ddbS{Value: "s-1"}}})
	if err != nil || len(out.Item) != 0 {
		t.Errorf("session item written for a rolled-back payment: %v %v", out.Item, err)
	}
	if _, err := e.admin.Exec("DROP TRIGGER refuse_ledger"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/payments", "key-rollback", body1, nil); r.status != http.StatusCreated {
		t.Fatalf("retry after the rollback: %d %v", r.status, r.body)
	}
	if c := len(e.events.Entries()); c != 1 {
		t.Errorf("%d events after the successful retry, want 1", c)
	}
}

// /health follows the database alone: with the session table unreachable
// and the database writable it stays 200 ("degraded", tableError), since
// this is still the only Region that can take payments; the table's state
// comes from a cache, never from a DynamoDB call on the probe's path.
func TestHealthReportsAnUnreachableTableButStaysUp(t *testing.T) {
	e := primary(t)
	if h := e.do(t, "GET", "/health", "", "", map[string]string{"X-Api-Key": ""}); h.status != 200 || h.body["tableReachable"] != true || h.body["dbWritable"] != true || h.body["status"] != "ok" {
		t.Fatalf("healthy Region: %d %v", h.status, h.body)
	}
	e.handler.Service.Sessions = &dynamo.Sessions{Client: e.ddb, Table: "payment-sessions-absent"}
	e.handler.Service.Tables = &payments.TableProbe{Sessions: e.handler.Service.Sessions}
	h := e.do(t, "GET", "/health", "", "", map[string]string{"X-Api-Key": ""})
	if h.status != http.StatusOK || h.body["tableReachable"] != false || h.body["dbWritable"] != true ||
		h.body["status"] != "degraded" || h.body["region"] != "us-east-1" || h.body["tableError"] != "unreachable" {
		t.Fatalf("table unreachable: %d %v", h.status, h.body)
	}
	// The public endpoint gives a reason code, not the backend's error text.
	if fmt.Sprint(h.body) != fmt.Sprint(map[string]any{"region": "us-east-1", "dbWritable": true, "tableReachable": false,
		"status": "degraded", "tableError": "unreachable"}) {
		t.Errorf("health body carries more than the reason code: %v", h.body)
	}
}
