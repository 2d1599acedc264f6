package dr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// Values keys of the writer record a run wrote.
const (
	WriterEpochKey = "writerEpoch"
	// WriterEpochSetKey is when the record's write returned (drctl's
	// clock): the lease of the old writer's requests runs from there.
	WriterEpochSetKey = "writerEpochSetAt"
)

// LeaseMargin is added to payments.WriterLease when a move waits out the
// old writer's confirmations: the two clocks measure the same interval
// (no skew enters), and only their rates and the scheduling of the check
// differ.
const LeaseMargin = 250 * time.Millisecond

// setWriterEpoch makes target the journal's writer at the next epoch. In
// an unplanned failover it runs before the promotion: from then on the old
// Region's service refuses every payment it had not admitted, whether its
// Lambda was fenced and whether Aurora's fencing reached its database.
// In a switchover it runs once target holds the writer (Aurora's
// switchover fenced the old database itself, losing nothing).
func (c *Controller) setWriterEpoch(target string) plan.Step {
	return plan.Step{
		Name: "set-writer-epoch", Description: "record " + target + " as the payment journal's writer at the next epoch (the old Region's service stops claiming)",
		Calls: []string{
			"dynamodb:GetItem " + c.names().JournalTable() + " pk=writer (" + target + ", strongly consistent)",
			"dynamodb:PutItem " + c.names().JournalTable() + " pk=writer region=" + target + " epoch=<epoch+1> if epoch=<epoch>",
		},
		Timeout: c.timeout(2 * time.Minute),
		Done: func(ctx context.Context) (bool, error) {
			w, found, err := c.Cloud.JournalWriter(ctx, target)
			return err == nil && found && w.Region == target, err
		},
		Run: func(ctx context.Context, rec plan.Recorder) error {
			var w WriterEpoch
			err := plan.Wait(ctx, c.backoff(), "the journal's writer record", func(ctx context.Context) (bool, error) {
				cur, found, err := c.Cloud.JournalWriter(ctx, target)
				switch {
				case err != nil:
					return false, err
				case found && cur.Region == target:
					w = cur
					return true, nil
				}
				w, err = c.Cloud.SetJournalWriter(ctx, target, cur.Epoch, "drctl "+target)
				return err == nil, err
			})
			if err != nil {
				return fmt.Errorf("%w (without the record, %s's payment service refuses every payment)", err, target)
			}
			return errors.Join(rec.Set(WriterEpochKey, target+" "+strconv.FormatInt(w.Epoch, 10)),
				rec.Set(WriterEpochSetKey, c.now().UTC().Format(time.RFC3339Nano)))
		},
	}
}

// waitWriterLease waits until every confirmation the old writer's
// service could act on is older than payments.WriterLease: afterwards no
// request of the old Region acknowledges a payment, so the claims read
// next are all there will be. It returns how long it waited. A run that
// has no time for its write (drctl stopped between the write and its
// record, and the resumed step found the record in place) waits a whole
// lease from now, which is later than from the write.
func (c *Controller) waitWriterLease(ctx context.Context, rec plan.Recorder) (time.Duration, error) {
	set, err := time.Parse(time.RFC3339Nano, rec.Get(WriterEpochSetKey))
	if err != nil {
		set = c.now()
	}
	wait := set.Add(payments.WriterLease + LeaseMargin).Sub(c.now())
	if wait <= 0 {
		return 0, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return wait, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting out the old writer's lease: %w", ctx.Err())
	}
}
