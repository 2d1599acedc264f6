package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

// EventBridge fails for 10 s under load: the payments still succeed, and
// once it is back every committed payment gets its event (the outbox),
// each carrying its payment id.
func TestEventBridgeOutageUnderLoadLosesNoEvent(t *testing.T) {
	e := primary(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go e.handler.Service.Outbox.Run(ctx, time.Second)
	start := time.Now()
	e.events.FailUntil = start.Add(time.Second + 10*time.Second)
	var created, during atomic.Int64
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 13*time.Second {
				i := seq.Add(1)
				r := e.do(t, "POST", "/payments", fmt.Sprintf("outage-%d", i), strings.Replace(body1, `"s-1"`, fmt.Sprintf(`"s-%d"`, i), 1), nil)
				if r.status != http.StatusCreated {
					t.Errorf("payment %d: %d %v", i, r.status, r.body)
					return
				}
				created.Add(1)
				if d := time.Since(start); d > time.Second && d < 11*time.Second {
					during.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	committed := committedKeys(t, e.admin)
	missing := waitEvents(t, e.events, committed)
	dup := len(e.events.Entries()) - len(committed)
	t.Logf("payments %d (%d while EventBridge failed), committed %d, without an event %d, published twice %d",
		created.Load(), during.Load(), len(committed), missing, dup)
	if during.Load() == 0 {
		t.Error("no payment was made during the outage")
	}
	for _, ev := range e.events.Entries() {
		var d eventbus.Detail
		if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil || d.PaymentID == "" || d.PaymentID != d.Payment.ID {
			t.Fatalf("event without its payment id: %s", ev.Detail)
		}
	}
}

// After a failover the new Region publishes the events the old one had
// not: the outbox rows replicate with the payments. One server plays the
// database: writable for the old Region, read-only during the switch
// (the new Region's sweep must not touch it), then promoted.
func TestNewRegionPublishesWhatTheOldOneHadNot(t *testing.T) {
	old := newEnv(t, backends.EnvMySQLSecondaryDSN, backends.EnvMySQLSecondaryAdminDSN)
	setReadOnly := func(on bool) {
		if _, err := old.admin.Exec(fmt.Sprintf("SET GLOBAL read_only = %d", map[bool]int{true: 1, false: 0}[on])); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setReadOnly(true) })
	setReadOnly(false)
	old.events.FailUntil = time.Now().Add(time.Hour) // the old Region's bus is gone with it
	var ids []string
	for i := 0; i < 25; i++ {
		r := old.do(t, "POST", "/payments", fmt.Sprintf("lost-event-%d", i), body1, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("old Region: %d %v", r.status, r.body)
		}
		ids = append(ids, r.body["id"].(string))
	}
	setReadOnly(true) // failover in progress: the old writer is demoted
	neu := backends.NewEventBridge(t)
	relay := &payments.Relay{Store: mysqlstore.New(old.app),
		Events: &eventbus.Publisher{Client: neu.Client(), Bus: "payment-events-us-west-2-test", Region: "us-west-2"}}
	// The old instance died before its rows were due: let their grace pass.
	if _, err := old.admin.Exec("UPDATE payment_outbox SET next_attempt_at = NOW(6) - INTERVAL 1 SECOND"); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.Sweep(context.Background()); n != 0 || err == nil {
		t.Fatalf("sweep on the read-only database: %d published (%v)", n, err)
	}
	setReadOnly(false) // the new Region's database is promoted
	n, err := relay.Sweep(context.Background())
	if err != nil || n != len(ids) {
		t.Fatalf("new Region's sweep published %d of %d (%v)", n, len(ids), err)
	}
	for _, ev := range neu.Entries() {
		var d eventbus.Detail
		_ = json.Unmarshal([]byte(ev.Detail), &d)
		if d.OriginRegion != "us-west-2" || d.Payment.Region != "us-east-1" {
			t.Errorf("event %s: want originRegion us-west-2 (the forwarding rules' origin) for a us-east-1 payment", ev.Detail)
		}
	}
	if c := paymentstest.Count(t, old.admin, "SELECT COUNT(*) FROM payment_outbox WHERE sent_at IS NULL"); c != 0 {
		t.Errorf("%d events still unsent", c)
	}
	if n, _ := relay.Sweep(context.Background()); n != 0 {
		t.Errorf("a second sweep published %d again", n)
	}
}
