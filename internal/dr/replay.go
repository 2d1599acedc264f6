package dr

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	// ReplayWindowAfter asks region's service, the new writer, which
	// window to replay after taking over from old: from old's newest
	// mark that its database holds (payments.Service.ReplayWindowAfter).
	ReplayWindowAfter(ctx context.Context, region, old string) (payments.ReplayBounds, error)
}

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

// replayJournal completes, in target, every payment claimed by the old
// writer that target's database may lack: the window starts at the old
// writer's newest mark that replicated into target (less the longest a
// claim takes to commit), read by target's own service, so neither a
// long replication stall nor drctl's clock shortens it. It runs after the
// promotion, once the old writer's lease ran out, and before
// verify-writes, so the acknowledged payments are there before the
// Region is declared ready. Without a mark (a database that never
// replicated one) it stops and asks for --replay-from, unless given.
func (c *Controller) replayJournal(target string) plan.Step {
	old := c.Cfg.Other(target)
	fn := c.names().PaymentFunction(target)
	return plan.Step{
		Name:        "replay-journal",
		Description: fmt.Sprintf("re-apply in %s the payments claimed in the journal since %s's newest mark in its database that it lacks", target, old),
		Calls: []string{
			"lambda:InvokeFunction " + fn + ` {"replayWindowAfter": {"oldRegion": "` + old + `"}}`,
			"lambda:InvokeFunction " + fn + ` {"replayJournal": {"from", "to"}}` + " per " + ReplayChunk.String() + " chunk of that window, again while its answer is incomplete",
		},
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
			from, to, how, err := c.replayWindow(ctx, replayer, target, old)
			if err != nil {
				return err
			}
			res, calls, err := c.replayChunks(ctx, replayer, target, from, to)
			if err != nil {
				return err
			}
			if calls.calls > calls.chunks {
				c.warn("the journal replay in %s took %s", target, calls)
			}
			return c.recordReplay(rec, target, from, to, how, res, calls)
		},
	}
}

// replayWindow asks target's service for the window; how says where its
// start came from.
func (c *Controller) replayWindow(ctx context.Context, r JournalReplayer, target, old string) (from, to time.Time, how string, err error) {
	var b payments.ReplayBounds
	err = plan.Wait(ctx, c.backoff(), "the replay window from "+target, func(ctx context.Context) (bool, error) {
		b, err = r.ReplayWindowAfter(ctx, target, old)
		return err == nil, err
	})
	if err != nil {
		return from, to, "", err
	}
	from, to = b.From, b.To
	switch {
	case b.Known() && (c.ReplayFrom.IsZero() || !c.ReplayFrom.Before(from)):
		how = fmt.Sprintf("%s's newest mark in %s, %s, less %s", old, target, b.Mark.UTC().Format(time.RFC3339Nano), payments.ClaimCommitDeadline+payments.ReplaySlack)
	case !c.ReplayFrom.IsZero():
		from, how = c.ReplayFrom, "--replay-from"
	default:
		return from, to, "", plan.Permanent(fmt.Errorf("%s's database holds no mark of %s, so nothing tells which claims it lacks: "+
			"rerun with --replay-from <RFC 3339> (when replication from %s stopped, or the journal's retention start, %s ago, to replay everything)",
			target, old, old, payments.DefaultJournalRetention))
	}
	return from, to, how, nil
}

func (c *Controller) recordReplay(rec plan.Recorder, target string, from, to time.Time, how string, res payments.ReplayResult, calls replayCalls) error {
	keys := make([]string, len(res.Replayed))
	for i, r := range res.Replayed {
		keys[i] = base64.StdEncoding.EncodeToString(r.Key) + "=" + r.PaymentID
	}
	if len(keys) > 0 {
		c.warn("replayed %d payment(s) from the journal into %s", len(keys), target)
	}
	for k, v := range map[string]string{
		ReplayWindowKey:  from.UTC().Format(time.RFC3339Nano) + "/" + to.UTC().Format(time.RFC3339Nano) + " (from " + how + ")",
		ReplayedKeysKey:  strings.Join(keys, " "),
		ReplayedCountKey: strconv.Itoa(len(keys)) + fmt.Sprintf(" (present %d, released %d)", res.Present, res.Released),
		ReplayCallsKey:   calls.String(),
	} {
		if err := rec.Set(k, v); err != nil {
			return err
		}
	}
	return nil
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
