package main_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/bench/runtimeapi"
	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

// build compiles this command as Lambda runs it (lambda.norpc).
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects the process's stdout (its JSON logs).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The real binary, started as Lambda starts it (AWS_LAMBDA_RUNTIME_API),
// with the deployed environment's variable names, reads its secrets,
// serves /health and payments, replays, and logs JSON with request ids.
func TestBinaryServesThroughTheRuntimeAPI(t *testing.T) {
	rt, err := runtimeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	eb, sm, stdout := startBinary(t, rt.Addr)

	invoke := func(method, path, key, body, reqID string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: method + " " + path, RawPath: path, Body: body,
			Headers: map[string]string{"content-type": "application/json", "x-api-key": key, "idempotency-key": "bin-1"}}
		ev.RequestContext.HTTP.Method = method
		ev.RequestContext.RequestID = reqID
		raw, _ := json.Marshal(ev)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := rt.Invoke(ctx, raw)
		if err != nil {
			t.Fatalf("%s %s: %v\nlogs:\n%s", method, path, err, stdout.String())
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(r.Body, &resp); err != nil || r.Error {
			t.Fatalf("%s %s: reply %s", method, path, r.Body)
		}
		return resp
	}

	if r := invoke("GET", "/health", "", "", "r-health"); r.StatusCode != 200 || !strings.Contains(r.Body, `"region":"us-west-2"`) {
		t.Fatalf("health: %d %s", r.StatusCode, r.Body)
	}
	body := `{"amount":999,"currency":"GBP","merchantRef":"m-bin","customerRef":"c-bin","sessionId":"s-bin"}`
	first := invoke("POST", "/payments", "binary-test-key", body, "r-create")
	again := invoke("POST", "/payments", "binary-test-key", body, "r-replay")
	if first.StatusCode != 201 || again.StatusCode != 200 || again.Headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("create %d %s, replay %d %v", first.StatusCode, first.Body, again.StatusCode, again.Headers)
	}
	if r := invoke("POST", "/payments", "", body, "r-nokey"); r.StatusCode != 401 {
		t.Errorf("no API key: %d %s", r.StatusCode, r.Body)
	}
	if ev := eb.Entries(); len(ev) != 1 || !strings.Contains(ev[0].Detail, `"originRegion":"us-west-2"`) {
		t.Errorf("events %+v", ev)
	}
	if got := sm.Reads(); len(got) != 2 {
		t.Errorf("secret reads %v, want two (once per instance)", got)
	}
	// Every stdout line is a JSON log record; each request's carries the
	// request id, the Region and the environment. The process's stdout is
	// copied asynchronously, so the last lines may arrive a moment late.
	want := []string{"r-health", "r-create", "r-replay", "r-nokey"}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		missing := missingRequestLogs(t, stdout.String(), want)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request log line for %v in:\n%s", missing, stdout.String())
		}
	}
}

// startBinary starts the payment binary as Lambda starts it, with the
// deployed function's environment pointed at the test backends; it is
// killed when the test ends.
func startBinary(t *testing.T, runtimeAPI string) (*backends.EventBus, *backends.SecretsManager, *lockedBuffer) {
	t.Helper()
	f := paymentstest.NewFunction(t, "db", "key", "binary-test-key")
	cmd := exec.Command(build(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI, "AWS_REGION=us-west-2", "ENVIRONMENT=bin",
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + f.Secrets.URL, "AWS_ENDPOINT_URL_EVENTBRIDGE=" + f.Events.URL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + backends.Env(t, backends.EnvDynamoDBEndpoint),
		"SESSION_TABLE=" + f.SessionTable, "EVENT_BUS_NAME=payment-events-us-west-2-bin",
		"DB_HOST=" + f.DBHost, "DB_PORT=" + f.DBPort, "DB_NAME=" + f.DBName, "DB_SECRET_ID=db", "API_KEY_SECRET_ID=key", "DB_TLS=off",
		"JOURNAL_TABLE=" + f.JournalTable}
	stdout := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return f.Events, f.Secrets, stdout
}

func missingRequestLogs(t *testing.T, logs string, ids []string) []string {
	t.Helper()
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			if !strings.HasSuffix(logs, sc.Text()) { // a last line still being written is not an error
				t.Fatalf("stdout line is not JSON: %q", sc.Text())
			}
			continue
		}
		if m["msg"] == "request" && m["region"] == "us-west-2" && m["environment"] == "bin" {
			seen[fmt.Sprint(m["requestId"])] = true
		}
	}
	var missing []string
	for _, id := range ids {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// Without its configuration the binary exits at once, naming what is missing.
func TestBinaryRefusesToStartWithoutConfiguration(t *testing.T) {
	rt, err := runtimeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	cmd := exec.Command(build(t))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + rt.Addr, "AWS_REGION=us-east-1"}
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, output %s", err, out)
	}
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(out), &m); err != nil || m["level"] != "ERROR" ||
		!strings.Contains(fmt.Sprint(m["error"]), "DB_SECRET_ID is required") || !strings.Contains(fmt.Sprint(m["error"]), "SESSION_TABLE is required") {
		t.Fatalf("output %s (%v)", out, err)
	}
}

// LISTEN_ADDR serves the same handler over HTTP for local runs, with
// DB_DSN instead of the database secret; a non-loopback address is refused.
func TestBinaryServesLocalHTTP(t *testing.T) {
	run := newLocalRun(t)
	addr, env, bin := run.addr, run.env, build(t)

	refused := exec.Command(bin)
	refused.Env = append(env, "LISTEN_ADDR=0.0.0.0:0")
	if out, err := refused.Output(); err == nil || !strings.Contains(string(out), "loopback") {
		t.Errorf("public LISTEN_ADDR: %v %s", err, out)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(env, "LISTEN_ADDR="+addr)
	var stdout lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/health"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no local server: %v\n%s", err, stdout.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/payments", strings.NewReader(`{"amount":5,"currency":"CHF","merchantRef":"m","customerRef":"c"}`))
	req.Header.Set("x-api-key", "local-key")
	req.Header.Set("Idempotency-Key", "local-1")
	req.Header.Set("X-Request-Id", "local-req-1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create %d", resp.StatusCode)
	}
	// The request's log line is written as the handler returns, which may
	// be just after the client has the reply.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stdout.String(), `"requestId":"local-req-1"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("request id not logged:\n%s", stdout.String())
		}
	}
	slowBodyIsCutOff(t, addr)
}

// localRun is the binary's local HTTP mode on the test backends: its
// environment (DB_DSN instead of the database secret, the API key from a
// local Secrets Manager; LISTEN_ADDR is the caller's), a free loopback
// address for it, the database's admin pool and the event bus.
type localRun struct {
	addr   string
	env    []string
	admin  *sql.DB
	events *backends.EventBus
}

func newLocalRun(t *testing.T) localRun {
	t.Helper()
	_, admin, dbName := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	_, table := backends.Dynamo(t)
	eb := backends.NewEventBridge(t)
	sm := backends.NewSecretsManager(t, map[string]string{"key": "local-key"})
	cfg, err := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLDSN))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = dbName
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return localRun{addr: addr, admin: admin, events: eb, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_REGION=us-east-1", "ENVIRONMENT=local", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + sm.URL, "AWS_ENDPOINT_URL_EVENTBRIDGE=" + eb.URL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + backends.Env(t, backends.EnvDynamoDBEndpoint),
		"SESSION_TABLE=" + table, "EVENT_BUS_NAME=local", "API_KEY_SECRET_ID=key", "DB_DSN=" + cfg.FormatDSN()}}
}

// slowBodyIsCutOff: a client that announces a body and never sends it
// loses the connection (the server's read timeout), instead of holding
// it forever.
func slowBodyIsCutOff(t *testing.T, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /payments HTTP/1.1\r\nHost: local\r\nX-Api-Key: local-key\r\nIdempotency-Key: slow\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"amount\":"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(io.Discard, c) // returns when the server closes the connection
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a request body that never arrives held the connection for 30 s: the local server has no read timeout")
	}
}
