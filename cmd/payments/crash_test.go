package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// crashWorld: the real binary in local HTTP mode with a journal on
// dynalite, which the test kills and restarts.
type crashWorld struct {
	bin, addr string
	env       []string
	proxy     *holdingProxy
	admin     *sql.DB
	journal   *claims.Journal
	events    *backends.EventBus
}

// holdingProxy forwards DynamoDB calls to dynalite and, while hold is
// set, keeps the answer of a claim item's PutItem from the service once
// dynalite has written it: the claim is durable, the service does not
// know yet.
type holdingProxy struct {
	upstream *url.URL
	hold     atomic.Bool
	held     chan struct{} // one send per held answer
	release  chan struct{}
}

func (p *holdingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the service went away mid-request: forward nothing
	}
	req, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.upstream.String()+r.URL.Path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if p.hold.Load() && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") && bytes.Contains(body, []byte(`"claim#`)) {
		p.held <- struct{}{}
		<-p.release
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(reply)
}

func newCrashWorld(t *testing.T) *crashWorld {
	run := newLocalRun(t)
	jc, jtable := backends.JournalTable(t)
	up, _ := url.Parse(backends.Env(t, backends.EnvDynamoDBEndpoint))
	proxy := &holdingProxy{upstream: up, held: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(func() { close(proxy.release) })
	return &crashWorld{bin: build(t), addr: run.addr, admin: run.admin, events: run.events, journal: &claims.Journal{Client: jc, Table: jtable}, proxy: proxy,
		env: append(run.env, "LISTEN_ADDR="+run.addr, "JOURNAL_TABLE="+jtable, "JOURNAL_ENDPOINT="+backends.Serve(t, proxy))}
}

// start runs the binary until it answers /health; kill ends it with
// SIGKILL (no deferred code, no graceful shutdown: a crash).
func (w *crashWorld) start(t *testing.T) (kill func()) {
	cmd := exec.Command(w.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env, io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	t.Cleanup(kill)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + w.addr + "/health")
		if err == nil {
			resp.Body.Close()
			return kill
		}
		if time.Now().After(deadline) {
			t.Fatalf("no local server: %v", err)
		}
	}
}

const crashBody = `{"amount":700,"currency":"EUR","merchantRef":"m-crash","customerRef":"c-crash"}`

// post sends a payment; the reply is nil when the connection died.
func (w *crashWorld) post(key string) (int, map[string]any, error) {
	req, _ := http.NewRequest("POST", "http://"+w.addr+"/payments", strings.NewReader(crashBody))
	req.Header.Set("x-api-key", "local-key")
	req.Header.Set("Idempotency-Key", key)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	err = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, err
}

func (w *crashWorld) rows(t *testing.T, key string) []string {
	t.Helper()
	rs, err := w.admin.Query("SELECT id FROM payments WHERE idempotency_key = ?", key)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var ids []string
	for rs.Next() {
		var id string
		_ = rs.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

// waitClaim waits until the key is claimed in the journal.
func (w *crashWorld) waitClaim(t *testing.T, key string) claims.Claim {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, found, err := w.journal.Get(context.Background(), key); err == nil && found {
			return c
		}
	}
	t.Fatal("the key was never claimed")
	return claims.Claim{}
}

// The process is killed after its claim is durable and before its
// commit is sent (the journal's answer is held): the client got no
// answer; nothing is committed; the retry, served by a new process,
// completes the claimed payment, once.
func TestKilledBetweenClaimAndCommit(t *testing.T) {
	w := newCrashWorld(t)
	kill := w.start(t)
	w.proxy.hold.Store(true)
	answered := make(chan error, 1)
	go func() { _, _, err := w.post("crash-1"); answered <- err }()
	<-w.proxy.held
	claim := w.waitClaim(t, "crash-1")
	kill()
	w.proxy.hold.Store(false)
	if err := <-answered; err == nil {
		t.Fatal("the killed process answered")
	}
	if ids := w.rows(t, "crash-1"); len(ids) != 0 {
		t.Fatalf("committed before the crash: %v", ids)
	}
	w.start(t)
	for range 2 {
		status, body, err := w.post("crash-1")
		if err != nil || status != http.StatusOK || body["id"] != claim.PaymentID {
			t.Fatalf("retry: %d %v %v, want 200 with the claimed payment %s", status, body, err, claim.PaymentID)
		}
	}
	if ids := w.rows(t, "crash-1"); len(ids) != 1 || ids[0] != claim.PaymentID {
		t.Errorf("payments of the key %v, want the claimed one once", ids)
	}
}

// The process is killed while its commit waits on a lock (the payments
// table is locked; the commit, sent, finishes once the lock goes): the
// retry returns the claimed payment, and there is one.
func TestKilledWhileTheCommitWaits(t *testing.T) {
	w := newCrashWorld(t)
	kill := w.start(t)
	ctx := context.Background()
	lock, err := w.admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES payments WRITE"); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() { _, _, err := w.post("crash-3"); answered <- err }()
	claim := w.waitClaim(t, "crash-3")
	time.Sleep(200 * time.Millisecond) // the commit is sent and waits on the lock
	kill()
	if err := <-answered; err == nil {
		t.Fatal("the killed process answered")
	}
	if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	status, body, err := w.post("crash-3")
	if err != nil || status != http.StatusOK || body["id"] != claim.PaymentID {
		t.Fatalf("retry: %d %v %v, want 200 with the claimed payment %s", status, body, err, claim.PaymentID)
	}
	if ids := w.rows(t, "crash-3"); len(ids) != 1 || ids[0] != claim.PaymentID {
		t.Errorf("payments of the key %v, want the claimed one once", ids)
	}
}

// The process is killed after its commit and before its answer (the
// event bus holds the after-commit delivery): the retry returns the same
// payment, and there is one.
func TestKilledBetweenCommitAndAnswer(t *testing.T) {
	w := newCrashWorld(t)
	release := make(chan struct{})
	defer close(release)
	w.events.OnEvent = func(backends.Event) { <-release }
	kill := w.start(t)
	answered := make(chan error, 1)
	go func() { _, _, err := w.post("crash-2"); answered <- err }()
	claim := w.waitClaim(t, "crash-2")
	for deadline := time.Now().Add(15 * time.Second); len(w.rows(t, "crash-2")) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never committed")
		}
	}
	kill()
	if err := <-answered; err == nil {
		t.Fatal("the killed process answered")
	}
	w.events.OnEvent = nil
	w.start(t)
	status, body, err := w.post("crash-2")
	if err != nil || status != http.StatusOK || body["id"] != claim.PaymentID {
		t.Fatalf("retry: %d %v %v, want 200 with the claimed payment %s", status, body, err, claim.PaymentID)
	}
	if ids := w.rows(t, "crash-2"); len(ids) != 1 {
		t.Errorf("payments of the key %v, want one", ids)
	}
}

// The local mode serves the failover's replay on POST
// /internal/replay-journal (the lab's drctl calls it): the window's
// claims, here one present payment.
func TestLocalReplayRoute(t *testing.T) {
	w := newCrashWorld(t)
	w.start(t)
	if status, _, err := w.post("replay-1"); err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, err)
	}
	url := "http://" + w.addr + "/internal/replay-journal"
	body := fmt.Sprintf(`{"from":%q,"to":%q}`, time.Now().Add(-time.Minute).Format(time.RFC3339), time.Now().Add(time.Minute).Format(time.RFC3339))
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var res payments.ReplayResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || res.Present != 1 || len(res.Replayed) != 0 {
		t.Errorf("replay: %d %+v %v", resp.StatusCode, res, err)
	}
	for _, c := range []struct {
		method, body string
		want         int
	}{{"POST", `{"from":"yesterday"}`, http.StatusBadRequest}, {"POST", `{}`, http.StatusBadRequest}, {"GET", "", http.StatusMethodNotAllowed}} {
		req, _ := http.NewRequest(c.method, url, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.body, resp.StatusCode, c.want)
		}
	}
}
