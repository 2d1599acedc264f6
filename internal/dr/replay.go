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
	// ReplayCallsKey: how many calls each chunk took (1 unless an answer
	// was incomplete or a call failed).
	ReplayCallsKey = "journalReplayCalls"
	// LeaseWaitKey: how long the replay waited for the old writer's lease
	// to run out (0s when the promotion took longer than the lease).
	LeaseWaitKey = "writerLeaseWait"
)

// ListValueKeys are the Values keys holding a list (space-separated),
// which the text report counts rather than prints; the JSON report and
// the run's journal keep them whole.
var ListValueKeys = []string{ReplayedKeysKey}

// replayJournal completes, in target, every payment claimed from the move
// time − lag budget − ReplayMargin until now that target's database
// lacks. It runs after the promotion and before verify-writes, so the
// acknowledged payments are there before the Region is declared ready.
func (c *Controller) replayJournal(target string) plan.Step {
	window := time.Duration(c.Cfg.Objectives.LagBudgetSeconds)*time.Second + ReplayMargin
	return plan.Step{
		Name:        "replay-journal",
		Description: fmt.Sprintf("re-apply in %s the payments claimed in the journal since the move − %s that its database lacks", target, window),
		Calls: []string{"lambda:InvokeFunction " + c.names().PaymentFunction(target) + ` {"replayJournal": {"from": <move − ` + window.String() + `>, "to": <now>}}` +
			" per " + ReplayChunk.String() + " chunk, again while its answer is incomplete"},
		Timeout: c.timeout(10 * time.Minute),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			replayer, ok := c.Cloud.(JournalReplayer)
			if !ok {
				c.warn("this cloud cannot replay the payment journal: payments acknowledged within the lag wait for drctl reconcile")
				return rec.Set(ReplayedCountKey, "not replayed: no journal replayer")
			}
			waited, err := c.waitWriterLease(ctx, rec)
			if err != nil {
				return err
			}
			if err := rec.Set(LeaseWaitKey, waited.Round(time.Millisecond).String()); err != nil {
				return err
			}
			moved, err := time.Parse(time.RFC3339Nano, rec.Get(journal.MoveAtKey))
			if err != nil {
				moved = c.now() // a run resumed without the mark replays from now − window
			}
			from, to := moved.Add(-window), c.now()
			res, calls, err := c.replayChunks(ctx, replayer, target, from, to)
			if err != nil {
				return err
			}
			if calls.calls > calls.chunks {
				c.warn("the journal replay in %s took %s", target, calls)
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
				ReplayCallsKey:   calls.String(),
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

// replayCalls is what a replay's calls were: per chunk, and the answers
// that were incomplete and the calls that failed.
type replayCalls struct {
	chunks, calls, incomplete, failed int
	perChunk                          []string
}

func (n replayCalls) String() string {
	return fmt.Sprintf("%d calls for %d chunks (%s); %d answers incomplete, %d calls failed",
		n.calls, n.chunks, strings.Join(n.perChunk, " "), n.incomplete, n.failed)
}

// replayChunks replays [from, to] one ReplayChunk at a time.
func (c *Controller) replayChunks(ctx context.Context, r JournalReplayer, target string, from, to time.Time) (payments.ReplayResult, replayCalls, error) {
	total := payments.ReplayResult{Replayed: []payments.ReplayedKey{}}
	var n replayCalls
	for start := from; !start.After(to); start = start.Add(ReplayChunk) {
		end := start.Add(ReplayChunk - time.Nanosecond)
		if end.After(to) {
			end = to
		}
		before := n.calls
		res, err := c.replayChunk(ctx, r, target, start, end, &n)
		n.chunks++
		n.perChunk = append(n.perChunk, strconv.Itoa(n.calls-before))
		total.Replayed = append(total.Replayed, res.Replayed...)
		total.Present += res.Present
		total.Released += res.Released
		if err != nil {
			return total, n, err
		}
	}
	return total, n, nil
}

// replayChunk replays one chunk: a failed call is retried until the new
// writer takes it (its database may still be opening), and an incomplete
// answer (its page full, or its time up) is followed by another call for
// the same chunk, which finds what the earlier ones completed present.
func (c *Controller) replayChunk(ctx context.Context, r JournalReplayer, target string, start, end time.Time, n *replayCalls) (payments.ReplayResult, error) {
	total := payments.ReplayResult{Replayed: []payments.ReplayedKey{}}
	for {
		var res payments.ReplayResult
		err := plan.Wait(ctx, c.backoff(), "the journal replay in "+target, func(ctx context.Context) (bool, error) {
			n.calls++
			var err error
			res, err = r.ReplayJournal(ctx, target, start, end)
			switch {
			case err != nil:
				n.failed++
				return false, err
			case res.Incomplete && len(res.Replayed) == 0:
				// No progress: asked again at once it would stop at the
				// same place; the backoff gives the writer time.
				n.incomplete++
				return false, fmt.Errorf("the replay of %s stopped without completing a payment: %s", start.UTC().Format(time.RFC3339), res.Stopped)
			}
			return true, nil
		})
		if err != nil {
			return total, err
		}
		earlier := len(total.Replayed)
		total.Replayed = append(total.Replayed, res.Replayed...)
		if !res.Incomplete {
			// The complete answer counts as present what the earlier
			// answers of this chunk completed.
			total.Present, total.Released = max(res.Present-earlier, 0), res.Released
			return total, nil
		}
		n.incomplete++
	}
}
