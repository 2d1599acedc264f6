package dr

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/journal"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// JournalReplayer re-applies, in a Region's new writer, the payments
// claimed in the payment journal that its database lacks: those the old
// writer acknowledged but had not replicated. AWS invokes the Region's
// payment function with {"replayJournal": {"from", "to"}}; the lab posts
// to the Region's service. A Cloud that implements it gets the
// replay-journal step in an unplanned failover.
type JournalReplayer interface {
	ReplayJournal(ctx context.Context, region string, from, to time.Time) (payments.ReplayResult, error)
}

// ReplayMargin widens the replay's window beyond the lag budget: clock
// differences between the service and drctl, and requests in flight when
// the move started.
const ReplayMargin = time.Minute

// Values keys of the replay's outcome in the run's report.
const (
	ReplayedCountKey = "journalReplayed"
	ReplayedKeysKey  = "journalReplayedKeys" // space-separated base64(key)=paymentId
	ReplayWindowKey  = "journalReplayWindow"
)

// replayJournal completes, in target, every payment claimed from the move
// time − lag budget − ReplayMargin until now that target's database
// lacks. It runs after the promotion and before verify-writes, so the
// acknowledged payments are there before the Region is declared ready.
func (c *Controller) replayJournal(target string) plan.Step {
	window := time.Duration(c.Cfg.Objectives.LagBudgetSeconds)*time.Second + ReplayMargin
	return plan.Step{
		Name:        "replay-journal",
		Description: fmt.Sprintf("re-apply in %s the payments claimed in the journal since the move − %s that its database lacks", target, window),
		Calls:       []string{"lambda:InvokeFunction " + c.names().PaymentFunction(target) + ` {"replayJournal": {"from": <move − ` + window.String() + `>, "to": <now>}}`},
		Timeout:     c.timeout(10 * time.Minute),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			replayer, ok := c.Cloud.(JournalReplayer)
			if !ok {
				c.warn("this cloud cannot replay the payment journal: payments acknowledged within the lag wait for drctl reconcile")
				return rec.Set(ReplayedCountKey, "not replayed: no journal replayer")
			}
			moved, err := time.Parse(time.RFC3339Nano, rec.Get(journal.MoveAtKey))
			if err != nil {
				moved = c.now() // a run resumed without the mark replays from now − window
			}
			from, to := moved.Add(-window), c.now()
			res, err := c.replayChunks(ctx, replayer, target, from, to)
			if err != nil {
				return err
			}
			keys := make([]string, len(res.Replayed))
			for i, r := range res.Replayed {
				keys[i] = base64.StdEncoding.EncodeToString(r.Key) + "=" + r.PaymentID
			}
			if len(keys) > 0 {
				c.warn("replayed %d payment(s) from the journal into %s", len(keys), target)
			}
			for k, v := range map[string]string{
				ReplayWindowKey:  from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339),
				ReplayedKeysKey:  strings.Join(keys, " "),
				ReplayedCountKey: strconv.Itoa(len(keys)) + fmt.Sprintf(" (present %d, released %d)", res.Present, res.Released),
			} {
				if err := rec.Set(k, v); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// ReplayChunk bounds the window of one replay call, so that one call (a
// Lambda invocation with the payment function's timeout) has a bounded
// amount of work however long the window.
const ReplayChunk = time.Minute

// replayChunks replays [from, to] one ReplayChunk at a time, each retried
// until the new writer takes it (its database may still be opening).
func (c *Controller) replayChunks(ctx context.Context, r JournalReplayer, target string, from, to time.Time) (payments.ReplayResult, error) {
	total := payments.ReplayResult{Replayed: []payments.ReplayedKey{}}
	for start := from; !start.After(to); start = start.Add(ReplayChunk) {
		end := start.Add(ReplayChunk - time.Nanosecond)
		if end.After(to) {
			end = to
		}
		var res payments.ReplayResult
		err := plan.Wait(ctx, c.backoff(), "the journal replay in "+target, func(ctx context.Context) (bool, error) {
			var err error
			res, err = r.ReplayJournal(ctx, target, start, end)
			return err == nil, err
		})
		if err != nil {
			return total, err
		}
		total.Replayed = append(total.Replayed, res.Replayed...)
		total.Present += res.Present
		total.Released += res.Released
	}
	return total, nil
}
