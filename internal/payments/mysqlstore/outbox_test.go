package mysqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

// bus records the events it accepts; while failing it refuses them all.
type bus struct {
	mu      sync.Mutex
	failing bool
	got     map[string]int // payment id -> events accepted
}

func (b *bus) Publish(_ context.Context, evs []payments.Event) []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := make([]error, len(evs))
	for i, e := range evs {
		if b.failing {
			errs[i] = errors.New("bus unavailable")
			continue
		}
		b.got[e.Payment.ID]++
	}
	return errs
}

func (b *bus) count(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got[id]
}

// An event the bus accepted is never claimed or published again: not by
// a replay's claim, not by a sweep, not once every grace and lease has
// run out, and not when its first attempts had failed (attempts > 0
// otherwise frees a row at once).
func TestSentEventIsNeverClaimedOrPublishedAgain(t *testing.T) {
	app, admin, _ := paymentstest.Database(t, "PAYMENTS_TEST_MYSQL_DSN", "PAYMENTS_TEST_MYSQL_ADMIN_DSN")
	s := mysqlstore.New(app)
	ctx := context.Background()
	b := &bus{got: map[string]int{}}
	relay := &payments.Relay{Store: s, Events: b, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}

	first, retried := payment("sent-at-once"), payment("sent-after-a-failure")
	for _, p := range []payments.Payment{first, retried} {
		if _, err := s.Create(ctx, p, "h"); err != nil {
			t.Fatal(err)
		}
	}
	relay.Deliver(ctx, first)
	b.failing = true
	relay.Deliver(ctx, retried)
	b.failing = false
	time.Sleep(2 * time.Millisecond) // past the relay's backoff
	relay.Redeliver(ctx, retried)
	if b.count(first.ID) != 1 || b.count(retried.ID) != 1 {
		t.Fatalf("events before the checks: %v", b.got)
	}
	if n := paymentstest.Count(t, admin, "SELECT COUNT(*) FROM payment_outbox WHERE sent_at IS NOT NULL AND attempts > 0 AND payment_id = ?", retried.ID); n != 1 {
		t.Fatalf("the retried payment's row is not sent after a failed attempt (%d rows)", n)
	}

	later := time.Now().UTC().Add(payments.InlineGrace + payments.ClaimLease + time.Hour)
	for _, p := range []payments.Payment{first, retried} {
		for _, at := range []time.Time{time.Now().UTC(), later} {
			if ok, err := s.ClaimEvent(ctx, p.ID, at, payments.ClaimLease); err != nil || ok {
				t.Errorf("ClaimEvent(%s) at %s claimed a sent event: %v %v", p.IdempotencyKey, at, ok, err)
			}
		}
	}
	if due, err := s.ClaimDue(ctx, later, payments.ClaimLease, payments.SweepBatch); err != nil || len(due) != 0 {
		t.Errorf("ClaimDue returned sent events: %d %v", len(due), err)
	}
	relay.Redeliver(ctx, first)
	relay.Redeliver(ctx, retried)
	if n, err := relay.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("sweep published %d (%v)", n, err)
	}
	if b.count(first.ID) != 1 || b.count(retried.ID) != 1 {
		t.Errorf("sent events published again: %v", b.got)
	}
}
