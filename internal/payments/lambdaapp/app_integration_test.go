package lambdaapp_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/lambdaapp"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

const apiKey = "integration-api-key"

// world is what one test's service runs against: a fresh database on the
// primary MariaDB, a fresh dynalite table, the recording EventBridge and
// Secrets Manager endpoints, reached through the SDK's own endpoint
// variables exactly as a local run of the binary would.
type world struct {
	vars    map[string]string
	secrets *backends.SecretsManager
	events  *backends.EventBus
	dbName  string
	appUser *mysql.Config
}

func newWorld(t *testing.T) *world {
	f := paymentstest.NewFunction(t, "payment-dr/it/db-master", "payment-dr/it/api-key", apiKey)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": f.Secrets.URL, "AWS_ENDPOINT_URL_EVENTBRIDGE": f.Events.URL,
		"AWS_ENDPOINT_URL_DYNAMODB": backends.Env(t, backends.EnvDynamoDBEndpoint),
		"AWS_ACCESS_KEY_ID":         "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
	} {
		t.Setenv(k, v)
	}
	return &world{
		vars: map[string]string{"ENVIRONMENT": "it", "AWS_REGION": "us-east-1", "SESSION_TABLE": f.SessionTable,
			"EVENT_BUS_NAME": "payment-events-us-east-1-it", "DB_HOST": f.DBHost, "DB_PORT": f.DBPort, "DB_NAME": f.DBName,
			"DB_SECRET_ID": "payment-dr/it/db-master", "API_KEY_SECRET_ID": "payment-dr/it/api-key", "DB_TLS": "off",
			"JOURNAL_TABLE": f.JournalTable},
		secrets: f.Secrets, events: f.Events, dbName: f.DBName, appUser: f.DBUser,
	}
}

func (w *world) start(t *testing.T, logs io.Writer) func(context.Context, json.RawMessage) (any, error) {
	t.Helper()
	e, err := lambdaapp.FromEnv(func(k string) string { return w.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := lambdaapp.New(context.Background(), e, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return httpapi.LambdaHandler(app.Handler, app.Admin)
}

// invoke sends one API Gateway HTTP API (v2) event, as Lambda delivers it.
func invoke(t *testing.T, h func(context.Context, json.RawMessage) (any, error), method, path, key, body, reqID string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: method + " " + path, RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json", "x-api-key": key, "idempotency-key": "it-" + reqID}}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.RequestID = reqID
	raw, _ := json.Marshal(ev)
	out, err := h(context.Background(), raw)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("%s %s: reply %T", method, path, out)
	}
	return resp
}

func TestNewReadsSecretsOnceAndServesThroughTheLambdaAdapter(t *testing.T) {
	w := newWorld(t)
	var logs bytes.Buffer
	h := w.start(t, &logs)

	if r := invoke(t, h, "GET", "/health", "", "", "req-health"); r.StatusCode != 200 || !strings.Contains(r.Body, `"dbWritable":true`) {
		t.Fatalf("health: %d %s", r.StatusCode, r.Body)
	}
	body := `{"amount":4200,"currency":"JPY","merchantRef":"m-it","customerRef":"c-it"}`
	r := invoke(t, h, "POST", "/payments", apiKey, body, "req-create")
	if r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	var p struct{ ID, Region string }
	_ = json.Unmarshal([]byte(r.Body), &p)
	if p.Region != "us-east-1" || len(p.ID) != 32 {
		t.Fatalf("created %s", r.Body)
	}
	if g := invoke(t, h, "GET", "/payments/"+p.ID, apiKey, "", "req-get"); g.StatusCode != 200 || !strings.Contains(g.Body, `"amount":4200`) {
		t.Errorf("get: %d %s", g.StatusCode, g.Body)
	}
	if u := invoke(t, h, "GET", "/payments/"+p.ID, "wrong-key", "", "req-unauth"); u.StatusCode != 401 || !strings.Contains(u.Body, `"code":"unauthorized"`) {
		t.Errorf("wrong key: %d %s", u.StatusCode, u.Body)
	}
	if ev := w.events.Entries(); len(ev) != 1 || ev[0].EventBusName != "payment-events-us-east-1-it" ||
		!strings.Contains(ev[0].Detail, `"originRegion":"us-east-1"`) || !strings.Contains(ev[0].Detail, p.ID) {
		t.Errorf("events %+v", ev)
	}
	// Secrets are read once per instance, not per request.
	if got := w.secrets.Reads(); len(got) != 2 {
		t.Errorf("secret reads %v, want the DB and API key secrets once each", got)
	}
	// Logs are JSON lines, one per request, that carry the request id.
	var sawCreate bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" && m["requestId"] == "req-create" && m["paymentId"] == p.ID && m["status"] == 201.0 && m["path"] == "/payments" {
			sawCreate = true
		}
	}
	if !sawCreate {
		t.Errorf("no payment log line with the request id:\n%s", logs.String())
	}
	// The payment function holds no master credentials: it refuses to
	// migrate and names the function that does.
	out, err := h(context.Background(), json.RawMessage(`{"migrate":true}`))
	if err == nil || !strings.Contains(err.Error(), "payment-migrate-") {
		t.Errorf("migrate on the payment function: %v %v", out, err)
	}
	// The scheduled sweep: nothing is due here.
	out, err = h(context.Background(), json.RawMessage(`{"sweepOutbox":true}`))
	if err != nil || fmt.Sprint(out) != "map[claimsRemoved:0 published:0]" {
		t.Errorf("sweep: %v %v", out, err)
	}
	// drctl's replay after a failover: the payment made above is claimed
	// in the journal and present in the database.
	window := fmt.Sprintf(`{"replayJournal":{"from":%q,"to":%q}}`, time.Now().Add(-time.Hour).Format(time.RFC3339), time.Now().Add(time.Minute).Format(time.RFC3339))
	out, err = h(context.Background(), json.RawMessage(window))
	if res, ok := out.(payments.ReplayResult); err != nil || !ok || res.Present < 1 || len(res.Replayed) != 0 {
		t.Errorf("replay: %#v %v", out, err)
	}
	if _, err := h(context.Background(), json.RawMessage(`{"replayJournal":{"from":"2026-01-02T00:00:00Z"}}`)); err == nil || !strings.Contains(err.Error(), `"to"`) {
		t.Errorf("replay without an end: %v", err)
	}
	// drctl's question before the replay: this database holds no mark of
	// us-west-2 (it never replicated one), so the start is unknown.
	out, err = h(context.Background(), json.RawMessage(`{"replayWindowAfter":{"oldRegion":"us-west-2"}}`))
	if b, ok := out.(payments.ReplayBounds); err != nil || !ok || b.Known() || b.To.IsZero() {
		t.Errorf("replay window after a Region without a mark: %#v %v", out, err)
	}
	if _, err := h(context.Background(), json.RawMessage(`{"replayWindowAfter":{"oldRegion":"us-east-1"}}`)); err == nil {
		t.Error("a replay window after the Region itself was answered")
	}
}

// The migration function (same binary; DB_SECRET_ID = the master secret,
// APP_DB_SECRET_ID = the application user's) applies the migrations and
// creates the application user with the secret's password and exactly
// its grants; the payment function then connects with that secret.
func TestMigrationFunctionCreatesTheApplicationUser(t *testing.T) {
	w := newWorld(t)
	admin, err := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLAdminDSN))
	if err != nil {
		t.Fatal(err)
	}
	user := "mig_" + w.dbName[len(w.dbName)-8:]
	master, _ := json.Marshal(map[string]string{"username": admin.User, "password": admin.Passwd})
	app, _ := json.Marshal(map[string]string{"username": user, "password": "generated-app-password-0123"})
	w.secrets.Set("payment-dr/it/db-master", string(master))
	w.secrets.Set("payment-dr/it/db-app", string(app))
	w.vars["APP_DB_SECRET_ID"], w.vars["APP_DB_USER_HOST"] = "payment-dr/it/db-app", "127.0.0.1"
	root := openAdmin(t, w.dbName)
	t.Cleanup(func() { _, _ = root.Exec("DROP USER IF EXISTS '" + user + "'@'127.0.0.1'") })
	migrate := w.start(t, io.Discard)
	out, err := migrate(context.Background(), json.RawMessage(`{"migrate":true}`))
	if err != nil || fmt.Sprint(out) != "map[appUser:"+user+" applied:[]]" {
		t.Fatalf("migrate: %v %v", out, err)
	}
	if n := paymentstest.Count(t, root, "SELECT COUNT(*) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ?",
		"'"+user+"'@'127.0.0.1'", w.dbName); n != 9 {
		t.Errorf("%d table privileges, want 9 (payments SELECT INSERT, ledger INSERT, outbox and writer marks SELECT INSERT UPDATE)", n)
	}
	// The payment function, given only the application user's secret.
	w.secrets.Set("payment-dr/it/db-payments", string(app))
	w.vars["DB_SECRET_ID"] = "payment-dr/it/db-payments"
	delete(w.vars, "APP_DB_SECRET_ID")
	pay := w.start(t, io.Discard)
	if r := invoke(t, pay, "POST", "/payments", apiKey, `{"amount":3,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, "req-app"); r.StatusCode != 201 {
		t.Fatalf("payment as the application user: %d %s", r.StatusCode, r.Body)
	}
}

func openAdmin(t *testing.T, db string) *sql.DB {
	cfg, err := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLAdminDSN))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = db
	pool, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

func TestDBDSNOverrideSkipsTheDatabaseSecret(t *testing.T) {
	w := newWorld(t)
	dsn := *w.appUser
	dsn.DBName = w.dbName
	w.vars["DB_DSN"] = dsn.FormatDSN()
	delete(w.vars, "DB_HOST")
	delete(w.vars, "DB_SECRET_ID")
	delete(w.vars, "DB_NAME")
	h := w.start(t, io.Discard)
	if r := invoke(t, h, "POST", "/payments", apiKey, `{"amount":1,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, "req-dsn"); r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	if got := w.secrets.Reads(); len(got) != 1 || got[0] != "payment-dr/it/api-key" {
		t.Errorf("secret reads %v, want only the API key", got)
	}
}

// With DB_TLS=verify (the default) the service never falls back to plain
// text: against a server without TLS it reports itself unavailable.
func TestTLSIsRequiredByDefault(t *testing.T) {
	w := newWorld(t)
	delete(w.vars, "DB_TLS")
	h := w.start(t, io.Discard)
	if r := invoke(t, h, "GET", "/health", "", "", "req-tls-health"); r.StatusCode != 503 || !strings.Contains(r.Body, `"dbWritable":false`) ||
		!strings.Contains(r.Body, `"dbError":"unreachable"`) || strings.Contains(r.Body, "127.0.0.1") || strings.Contains(r.Body, "TLS") {
		t.Errorf("health without TLS: %d %s", r.StatusCode, r.Body)
	}
	r := invoke(t, h, "POST", "/payments", apiKey, `{"amount":1,"currency":"EUR","merchantRef":"m","customerRef":"c"}`, "req-tls")
	if r.StatusCode != 503 || r.Headers["Retry-After"] == "" {
		t.Errorf("create without TLS: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	if n := len(w.events.Entries()); n != 0 {
		t.Errorf("%d events for a payment that was not written", n)
	}
}

func TestMissingSecretFailsStart(t *testing.T) {
	w := newWorld(t)
	w.vars["API_KEY_SECRET_ID"] = "payment-dr/it/absent"
	e, err := lambdaapp.FromEnv(func(k string) string { return w.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, err = lambdaapp.New(context.Background(), e, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "payment-dr/it/absent") || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("start with a missing secret: %v", err)
	}
}

// The service's AWS configuration retries a throttled call and a call
// that hangs past the per-attempt timeout, and gives up after the bounded
// number of attempts.
func TestAWSConfigRetriesThrottlingAndTimeouts(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	var calls atomic.Int32
	var script atomic.Value // per call: "throttle", "hang" or "ok"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		steps := script.Load().([]string)
		step := "ok"
		if n <= len(steps) {
			step = steps[n-1]
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch step {
		case "throttle":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(lambdaapp.AWSAttemptTimeout + 2*time.Second):
			}
		default:
			_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"e"}]}`)
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", srv.URL)
	cfg, err := lambdaapp.AWSConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	client := eventbridge.NewFromConfig(cfg)
	put := func() error {
		_, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("custom.payment"), DetailType: aws.String("Payment Processed"), Detail: aws.String("{}")}}})
		return err
	}

	script.Store([]string{"throttle", "hang"})
	start := time.Now()
	if err := put(); err != nil {
		t.Fatalf("throttled then hung, then ok: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3 (throttled, timed out, accepted)", n)
	}
	// The hung attempt was cut by the per-attempt timeout (without it the
	// hang would have answered, and there would be two calls, not three).
	if d := time.Since(start); d < lambdaapp.AWSAttemptTimeout {
		t.Errorf("took %v, less than the per-attempt timeout %v", d, lambdaapp.AWSAttemptTimeout)
	}

	calls.Store(0)
	script.Store([]string{"throttle", "throttle", "throttle", "throttle"})
	if err := put(); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("always throttled: %v", err)
	}
	if n := calls.Load(); n != int32(lambdaapp.AWSAttempts) {
		t.Errorf("%d calls, want %d", n, lambdaapp.AWSAttempts)
	}
}

// The scheduled sweep in the secondary Region finds a read-only database:
// the writer's Region publishes, so the invocation succeeds with nothing
// published instead of failing every minute (a Lambda error per sweep).
func TestSweepOnAReadOnlyDatabaseIsNotAnError(t *testing.T) {
	w := newWorld(t)
	_, _, name := paymentstest.Database(t, backends.EnvMySQLSecondaryDSN, backends.EnvMySQLSecondaryAdminDSN)
	cfg, err := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLSecondaryDSN))
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := json.Marshal(map[string]string{"username": cfg.User, "password": cfg.Passwd})
	w.secrets.Set("payment-dr/it/db-master", string(creds))
	host, port, _ := net.SplitHostPort(cfg.Addr)
	w.vars["DB_HOST"], w.vars["DB_PORT"], w.vars["DB_NAME"] = host, port, name
	h := w.start(t, io.Discard)
	out, err := h(context.Background(), json.RawMessage(`{"sweepOutbox":true}`))
	if err != nil || fmt.Sprint(out) != "map[claimsRemoved:0 published:0 readOnly:true]" {
		t.Fatalf("sweep on the read-only secondary: %v %v", out, err)
	}
}

// The journal's connections are opened at start, one per parallel claim
// write, with strongly consistent reads; a journal that does not answer
// then does not stop the start: /health reports it.
func TestStartOpensTheJournalsConnections(t *testing.T) {
	w := newWorld(t)
	var reads, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.GetItem" && strings.Contains(readAll(r), `"ConsistentRead":true`) {
			reads.Add(1)
		}
		// DynamoDB sends the body's CRC32 with every answer (x-amz-crc32),
		// and the SDK checks it.
		rw.Header().Set("Content-Type", "application/x-amz-json-1.0")
		rw.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(`{}`))), 10))
		fmt.Fprint(rw, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	w.vars["JOURNAL_ENDPOINT"] = srv.URL
	w.start(t, io.Discard)
	if reads.Load() != 2 || conns.Load() != 2 {
		t.Errorf("at start: %d consistent reads on %d connections, want 2 and 2", reads.Load(), conns.Load())
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.vars["JOURNAL_ENDPOINT"] = "http://" + l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	h := w.start(t, &logs)
	if !strings.Contains(logs.String(), "payment journal not reachable at start") {
		t.Errorf("no warning for a journal down at start:\n%s", logs.String())
	}
	if r := invoke(t, h, "GET", "/health", "", "", "req-health"); r.StatusCode != 503 || !strings.Contains(r.Body, `"journalError":"no_majority"`) {
		t.Errorf("health with the journal down: %d %s", r.StatusCode, r.Body)
	}
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
