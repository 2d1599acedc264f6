package eventbus_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
)

func payment() payments.Payment {
	return payments.Payment{ID: payments.NewID(), IdempotencyKey: "k", Amount: 700, Currency: "KWD", MerchantRef: "m",
		CustomerRef: "c", SessionID: "s", Status: payments.StatusProcessed, Region: "us-west-2", CreatedAt: time.Unix(1, 0).UTC()}
}

// The event carries originRegion (the forwarding rules' loop guard), the
// source and detail type the rules match, and the payment with its amount
// as an integer.
func TestPublishShape(t *testing.T) {
	eb := backends.NewEventBridge(t)
	p := &eventbus.Publisher{Client: eb.Client(), Bus: "payment-events-us-west-2-t", Region: "us-west-2"}
	pay := payment()
	if errs := p.Publish(context.Background(), []payments.Event{{DetailType: payments.EventFailed, Payment: pay}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	got := eb.Entries()
	if len(got) != 1 || got[0].Source != "custom.payment" || got[0].DetailType != "Payment Failed" || got[0].EventBusName != "payment-events-us-west-2-t" {
		t.Fatalf("%+v", got)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(got[0].Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d["originRegion"] != "us-west-2" || d["paymentId"] != pay.ID || d["payment"].(map[string]any)["amount"] != 700.0 || !strings.Contains(got[0].Detail, `"amount":700,`) {
		t.Errorf("detail %s", got[0].Detail)
	}
}

// Retries are bounded: an entry EventBridge keeps failing is given up on
// after Attempts calls, with the reason.
func TestPublishGivesUpAfterBoundedAttempts(t *testing.T) {
	eb := backends.NewEventBridge(t)
	eb.FailNext = 100
	p := &eventbus.Publisher{Client: eb.Client(), Bus: "b", Region: "us-east-1", Attempts: 3, Backoff: time.Millisecond}
	start := time.Now()
	err := p.Publish(context.Background(), []payments.Event{{DetailType: payments.EventProcessed, Payment: payment()}})[0]
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "InternalFailure") {
		t.Fatalf("err %v", err)
	}
	if eb.CallCount() != 3 || len(eb.Entries()) != 0 {
		t.Errorf("%d calls, %d accepted; want 3 and 0", eb.CallCount(), len(eb.Entries()))
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("gave up only after %v", time.Since(start))
	}
}

// A cancelled request stops the backoff at once.
func TestPublishStopsWhenTheContextEnds(t *testing.T) {
	eb := backends.NewEventBridge(t)
	eb.FailNext = 100
	p := &eventbus.Publisher{Client: eb.Client(), Bus: "b", Region: "us-east-1", Attempts: 5, Backoff: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Publish(ctx, []payments.Event{{DetailType: payments.EventProcessed, Payment: payment()}})[0]; err == nil {
		t.Fatal("published despite the context ending")
	}
	if eb.CallCount() != 1 {
		t.Errorf("%d calls, want 1", eb.CallCount())
	}
}

// A batch whose call succeeds for some entries only: the failed ones are
// sent again, alone, and each event gets its own outcome.
func TestPublishBatchRetriesOnlyFailedEntries(t *testing.T) {
	eb := backends.NewEventBridge(t)
	p := &eventbus.Publisher{Client: eb.Client(), Bus: "b", Region: "us-east-1", Backoff: time.Millisecond}
	evs := make([]payments.Event, payments.MaxEventBatch)
	for i := range evs {
		evs[i] = payments.EventFor(payment())
	}
	eb.FailNext = 1 // the first call fails every entry
	for i, err := range p.Publish(context.Background(), evs) {
		if err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	if got := len(eb.Entries()); got != len(evs) || eb.CallCount() != 2 {
		t.Errorf("%d events in %d calls, want %d in 2", got, eb.CallCount(), len(evs))
	}
}
