package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

// answer is what the handler wrote for one request, whether or not the
// client was still there to read it.
type answer struct {
	key    string
	status int
	code   string
}

// TestChaosNoCommittedPaymentIsAnswered5xx sends payments while the
// database's connections are killed, the database is frozen (SIGSTOP of a
// private server) and clients give up early, then checks every answer
// against the database: a 5xx that says "not applied" (every 5xx but
// outcome_unknown) must have committed nothing, a 2xx must have
// committed, no answer is a 500, and every committed payment gets its
// event. PAYMENTS_CHAOS_REQUESTS sets the number of requests (default
// 600; scripts/chaos.sh runs 5,000).
func TestChaosNoCommittedPaymentIsAnswered5xx(t *testing.T) {
	n := 600
	if v := os.Getenv("PAYMENTS_CHAOS_REQUESTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	_ = mysql.SetLogger(log.New(io.Discard, "", 0)) // the driver logs every killed connection
	srv := backends.StartMariaDB(t)
	app, admin, _ := paymentstest.DatabaseOn(t, srv.AppDSN, srv.AdminDSN)
	ddb, table := backends.Dynamo(t)
	eb := backends.NewEventBridge(t)
	store := mysqlstore.New(app)
	relay := &payments.Relay{Store: store, Events: &eventbus.Publisher{Client: eb.Client(), Bus: "chaos", Region: "us-east-1"}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go relay.Run(ctx, time.Second)
	h := &httpapi.Handler{APIKey: apiKey, Timeout: 4 * time.Second, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Service: &payments.Service{Store: store, Sessions: &dynamo.Sessions{Client: ddb, Table: table}, Outbox: relay, Region: "us-east-1"}}
	var mu sync.Mutex
	var answers []answer
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body struct{ Error struct{ Code string } }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		mu.Lock()
		answers = append(answers, answer{r.Header.Get("Idempotency-Key"), rec.Code, body.Error.Code})
		mu.Unlock()
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer front.Close()

	faults := startFaults(t, srv, admin)
	var next, clientGaveUp atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond) // spread the load over the faults
				if !post(front.URL, fmt.Sprintf("chaos-%d", i), i) {
					clientGaveUp.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	faults.stop()
	waitQuiet(t, admin)
	front.Close() // waits for the handlers still running

	committed := committedKeys(t, admin)
	byCode, unknownCommitted, violations := judge(t, answers, committed)
	missing := waitEvents(t, eb, committed)
	t.Logf("requests %d, answered %d, clients gave up %d; kills %d, freezes %d; answers %v; committed %d; "+
		"outcome_unknown that committed %d; committed-but-answered-5xx-as-not-applied %d; committed without an event %d",
		n, len(answers), clientGaveUp.Load(), faults.kills.Load(), faults.freezes.Load(), byCode, len(committed),
		unknownCommitted, violations, missing)
	if len(answers) != n {
		t.Errorf("%d answers for %d requests", len(answers), n)
	}
}

// committedKeys returns the idempotency keys of every committed payment.
func committedKeys(t *testing.T, admin *sql.DB) map[string]bool {
	committed := map[string]bool{}
	rows, err := admin.Query("SELECT idempotency_key FROM payments")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		committed[k] = true
	}
	return committed
}

// judge checks each answer against the database: no 500, every 2xx
// committed, every 5xx but outcome_unknown not committed.
func judge(t *testing.T, answers []answer, committed map[string]bool) (byCode map[string]int, unknownCommitted, violations int) {
	byCode = map[string]int{}
	for _, a := range answers {
		byCode[fmt.Sprintf("%d %s", a.status, a.code)]++
		switch {
		case a.status == http.StatusInternalServerError:
			violations++
			t.Errorf("%s answered 500", a.key)
		case a.status < 300 && !committed[a.key]:
			violations++
			t.Errorf("%s answered %d but not committed", a.key, a.status)
		case a.status >= 500 && a.code == "outcome_unknown":
			if committed[a.key] {
				unknownCommitted++
			}
		case a.status >= 500 && committed[a.key]:
			violations++
			t.Errorf("%s answered %d %s (not applied) but committed", a.key, a.status, a.code)
		}
	}
	return byCode, unknownCommitted, violations
}

// post sends one payment; a third of the clients give up after 1.5 s.
// It reports whether the client got an answer.
func post(url, key string, i int64) bool {
	timeout := 10 * time.Second
	if i%3 == 0 {
		timeout = 1500 * time.Millisecond
	}
	body := fmt.Sprintf(`{"amount":%d,"currency":"EUR","merchantRef":"m-1","customerRef":"c-%d"}`, 100+i, i)
	req, _ := http.NewRequest("POST", url+"/payments", strings.NewReader(body))
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Idempotency-Key", key)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return true
}

type faults struct {
	done           chan struct{}
	wg             sync.WaitGroup
	kills, freezes atomic.Int64
}

// startFaults kills a running application connection every 100 ms and
// freezes the server for 1-3.5 s (longer than a batch may take), first after 0.5 s, then every 3 s.
func startFaults(t *testing.T, srv *backends.TestServer, admin *sql.DB) *faults {
	f := &faults{done: make(chan struct{})}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			var id int64
			err := admin.QueryRowContext(ctx, `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'payments_app'
			  ORDER BY COMMAND = 'Query' DESC, RAND() LIMIT 1`).Scan(&id)
			if err == nil {
				if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err == nil {
					f.kills.Add(1)
				}
			}
			cancel()
		}
	}()
	go func() {
		defer f.wg.Done()
		for wait := 500 * time.Millisecond; ; wait = 3 * time.Second {
			select {
			case <-f.done:
				return
			case <-time.After(wait):
			}
			if err := srv.Freeze(); err != nil {
				t.Error(err)
				return
			}
			f.freezes.Add(1)
			time.Sleep(time.Duration(1000+rand.IntN(2500)) * time.Millisecond)
			if err := srv.Thaw(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return f
}

func (f *faults) stop() {
	close(f.done)
	f.wg.Wait()
}

// waitQuiet waits until no application statement runs on the server, so
// whatever a frozen server still held has committed or rolled back.
func waitQuiet(t *testing.T, admin *sql.DB) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var busy int
		if err := admin.QueryRow(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'payments_app' AND COMMAND = 'Query'`).Scan(&busy); err == nil && busy == 0 {
			time.Sleep(500 * time.Millisecond)
			return
		}
	}
	t.Fatal("the server did not settle")
}

// waitEvents waits for the outbox to publish an event for every committed
// payment and returns how many have none.
func waitEvents(t *testing.T, eb *backends.EventBus, committed map[string]bool) int {
	var missing int
	for deadline := time.Now().Add(payments.InlineGrace + 20*time.Second); ; time.Sleep(250 * time.Millisecond) {
		seen := map[string]bool{}
		for _, e := range eb.Entries() {
			var d eventbus.Detail
			if json.Unmarshal([]byte(e.Detail), &d) == nil {
				seen[d.Payment.IdempotencyKey] = true
			}
		}
		missing = 0
		for k := range committed {
			if !seen[k] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
	}
	if missing > 0 {
		t.Errorf("%d committed payments without an event", missing)
	}
	return missing
}
