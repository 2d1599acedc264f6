// Package eventbus publishes payment events to the Region's EventBridge bus.
package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// API is the part of the EventBridge client the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher implements payments.Events.
type Publisher struct {
	Client   API
	Bus      string
	Region   string
	Attempts int           // entry-level attempts; default 3
	Backoff  time.Duration // first backoff; doubled each attempt; default 50 ms
}

// Detail is the event's detail. originRegion is the contract with the
// cross-Region forwarding rules: they forward only events that originated
// in their own Region, so a forwarded event is never sent back (after a
// failover the Region that publishes a payment's event is the origin, not
// the Region that took the payment). paymentId lets consumers deduplicate:
// the outbox delivers at least once.
type Detail struct {
	OriginRegion string           `json:"originRegion"`
	PaymentID    string           `json:"paymentId"`
	Payment      payments.Payment `json:"payment"`
}

// Publish sends the events in one PutEvents call. The SDK retries throttled
// or failed calls; entries EventBridge accepts the call for but fails
// (FailedEntryCount) are retried here, a bounded number of times with
// doubling backoff. It returns one error per event.
func (p *Publisher) Publish(ctx context.Context, evs []payments.Event) []error {
	errs := make([]error, len(evs))
	pending := make([]int, len(evs)) // indexes still to send
	for i := range evs {
		pending[i] = i
	}
	attempts, backoff := p.Attempts, p.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	for i := 1; len(pending) > 0; i++ {
		pending = p.put(ctx, evs, pending, errs)
		if len(pending) == 0 || i >= attempts {
			break
		}
		select {
		case <-ctx.Done():
			for _, j := range pending {
				errs[j] = ctx.Err()
			}
			return errs
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	for _, j := range pending {
		errs[j] = fmt.Errorf("publishing %q after %d attempts: %w", evs[j].DetailType, attempts, errs[j])
	}
	return errs
}

// put sends evs[pending] once; it records each entry's outcome in errs
// and returns the indexes EventBridge did not accept.
func (p *Publisher) put(ctx context.Context, evs []payments.Event, pending []int, errs []error) []int {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, 0, len(pending))}
	for _, j := range pending {
		detail, _ := json.Marshal(Detail{OriginRegion: p.Region, PaymentID: evs[j].Payment.ID, Payment: evs[j].Payment})
		in.Entries = append(in.Entries, types.PutEventsRequestEntry{
			EventBusName: aws.String(p.Bus),
			Source:       aws.String(payments.EventSource),
			DetailType:   aws.String(evs[j].DetailType),
			Detail:       aws.String(string(detail)),
			Resources:    []string{},
		})
	}
	out, err := p.Client.PutEvents(ctx, in)
	if err != nil {
		for _, j := range pending {
			errs[j] = err
		}
		return pending
	}
	var again []int
	for k, j := range pending {
		if k < len(out.Entries) && out.Entries[k].ErrorCode == nil {
			errs[j] = nil
			continue
		}
		errs[j] = errors.New("event rejected")
		if k < len(out.Entries) {
			errs[j] = fmt.Errorf("event rejected: %s: %s", aws.ToString(out.Entries[k].ErrorCode), aws.ToString(out.Entries[k].ErrorMessage))
		}
		again = append(again, j)
	}
	return again
}
