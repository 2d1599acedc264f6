package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/awslimits"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// windowJournal is a journal holding a fixed window of claims, read by
// key in constant time.
type windowJournal struct {
	claimCounter
	mu     sync.Mutex
	byKey  map[string]payments.Claimed
	window []payments.Claimed
}

func (j *windowJournal) Held(_ context.Context, key string) (payments.Claimed, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	c, ok := j.byKey[key]
	return c, ok, nil
}

func (j *windowJournal) Window(_ context.Context, _, _ time.Time, fn func(payments.Claimed) error) error {
	for _, c := range j.window {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// The replay's answer goes back as a synchronous invocation's payload,
// at most 6 MB (Lambda API Reference, Invoke): a window with more missing
// payments than one answer may list, every key as long as the API
// accepts, is answered in pages under the limit, Incomplete until the
// last, and the pages together complete every payment once.
func TestReplayAnswerStaysUnderTheLambdaPayloadLimit(t *testing.T) {
	s, _, _ := newService()
	j := &windowJournal{byKey: map[string]payments.Claimed{}}
	s.Journal = j
	total := payments.MaxReplayPage + 1000
	for i := range total {
		key := fmt.Sprintf("%07d", i)
		key += strings.Repeat("~", payments.MaxIdempotencyKeyLen-len(key))
		req := good
		req.IdempotencyKey = key
		c := payments.Claimed{Payment: payments.Payment{ID: payments.NewID(), IdempotencyKey: key, Amount: req.Amount, Currency: req.Currency,
			MerchantRef: "m", CustomerRef: "c", SessionID: "s", Status: payments.StatusProcessed, CreatedAt: time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)},
			Hash: payments.RequestHash(req)}
		j.window = append(j.window, c)
		j.byKey[key] = c
	}
	seen := map[string]bool{}
	for call := 1; ; call++ {
		res, err := s.ReplayJournal(context.Background(), time.Time{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > awslimits.LambdaSyncResponse.Max {
			t.Errorf("answer %d: %d bytes, over the %d of %s", call, len(b), awslimits.LambdaSyncResponse.Max, awslimits.LambdaSyncResponse.Name)
		}
		for _, r := range res.Replayed {
			if seen[string(r.Key)] {
				t.Fatalf("answer %d replayed %.7s… again", call, r.Key)
			}
			seen[string(r.Key)] = true
		}
		if !res.Incomplete {
			if call != 2 || res.Present != payments.MaxReplayPage {
				t.Errorf("complete after %d answers, %d present; want 2 and %d", call, res.Present, payments.MaxReplayPage)
			}
			break
		}
		if call > 2 || len(res.Replayed) != payments.MaxReplayPage || !strings.HasPrefix(res.Stopped, "page") {
			t.Fatalf("answer %d: incomplete with %d replayed (%s)", call, len(res.Replayed), res.Stopped)
		}
	}
	if len(seen) != total {
		t.Errorf("%d of %d payments replayed", len(seen), total)
	}
}
