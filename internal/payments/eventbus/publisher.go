// Package eventbus publishes payment events to the Region's EventBridge bus.
package eventbus

import (
	"context"
	"encoding/json"
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
// in their own Region, so a forwarded event is never sent back.
type Detail struct {
	OriginRegion string           `json:"originRegion"`
	Payment      payments.Payment `json:"payment"`
}

// Publish sends the event. The SDK retries throttled or failed calls; an
// entry EventBridge accepts the call for but fails (FailedEntryCount) is
// retried here, a bounded number of times with doubling backoff.
func (p *Publisher) Publish(ctx context.Context, e payments.Event) error {
	detail, err := json.Marshal(Detail{OriginRegion: p.Region, Payment: e.Payment})
	if err != nil {
		return err
	}
	in := &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(p.Bus),
		Source:       aws.String(payments.EventSource),
		DetailType:   aws.String(e.DetailType),
		Detail:       aws.String(string(detail)),
		Resources:    []string{},
	}}}
	attempts, backoff := p.Attempts, p.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	for i := 1; ; i++ {
		out, err := p.Client.PutEvents(ctx, in)
		if err == nil && out.FailedEntryCount == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("event rejected: %s: %s", aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage))
		}
		if i >= attempts {
			return fmt.Errorf("publishing %q after %d attempts: %w", e.DetailType, i, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
