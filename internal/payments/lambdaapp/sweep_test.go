package lambdaapp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/memstore"
)

// busEvents accepts every event, unless its context has ended (as an
// EventBridge PutEvents call with an expired context fails).
type busEvents struct{ published int }

func (b *busEvents) Publish(ctx context.Context, events []payments.Event) []error {
	errs := make([]error, len(events))
	for i := range events {
		if errs[i] = ctx.Err(); errs[i] == nil {
			b.published++
		}
	}
	return errs
}

// stuckJournal's sweep takes the whole invocation and then fails, as a
// sweep that cannot keep up did; the rest of the journal is not used.
type stuckJournal struct{ payments.Journal }

func (stuckJournal) Sweep(ctx context.Context, _ time.Time, _ time.Duration) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// The scheduled invocation publishes the outbox's due events even when
// the journal's sweep takes all its time and fails.
func TestScheduledSweepPublishesTheOutboxWhateverTheJournalSweepDoes(t *testing.T) {
	store := memstore.New()
	created := time.Now().Add(-time.Minute)
	if _, err := store.Create(context.Background(), payments.Payment{ID: "pay-1", IdempotencyKey: "k-1", Amount: 1250, Currency: "EUR",
		Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: created}, "h"); err != nil {
		t.Fatal(err)
	}
	bus := &busEvents{}
	svc := &payments.Service{Store: store, Outbox: &payments.Relay{Store: store, Events: bus}, Journal: stuckJournal{}, Region: "us-east-1"}
	a := &App{Handler: &httpapi.Handler{Service: svc}}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out, err := a.sweep(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sweep error %v, want the journal sweep's", err)
	}
	if got := out.(map[string]any)["published"]; got != 1 || bus.published != 1 {
		t.Errorf("published %v (bus got %d), want the due event published", got, bus.published)
	}
	if unsent := store.Unsent(); len(unsent) != 0 {
		t.Errorf("outbox rows left unsent: %v", unsent)
	}
}
