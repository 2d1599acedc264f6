package dr

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
)

// OldPrimaryDataKey is the journal value naming the kept copy of the old
// primary's data ("pending: ..." until it could be kept).
const OldPrimaryDataKey = "oldPrimaryData"

// fenceWrites stops the payment service of the old Region from writing
// before the promotion: on AWS its Lambda's reserved concurrency is set to
// 0 (chosen over an SSM flag because it needs no code path in the service
// and holds even if the service cannot read SSM). The Region may not
// answer at all: then the failure is recorded and the failover goes on;
// Aurora's own fencing and confirm-fenced follow.
func (c *Controller) fenceWrites(old string) plan.Step {
	return plan.Step{
		Name: "fence-writes", Description: "stop the payment service in " + old + " from writing (where it still answers)",
		Calls:   []string{"lambda:PutFunctionConcurrency FunctionName=" + c.names().PaymentFunction(old) + " ReservedConcurrentExecutions=0"},
		Timeout: c.timeout(time.Minute),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			if err := c.Cloud.FenceWrites(ctx, old); err != nil {
				c.warn("%s not fenced (%v): its writes until the promotion are reconciled later", old, err)
				return rec.Set("fence", "not fenced: "+err.Error())
			}
			return rec.Set("fence", old+" fenced")
		},
	}
}

// liftFence lets region's payment service answer again: every move into
// a Region runs it once the Region holds the writer (before verify-writes,
// which a fenced service fails), and rejoin once the Region is a caught-up
// replica. Done when the Region is not fenced, so a move into a Region
// that never was costs one read.
func (c *Controller) liftFence(region string) plan.Step {
	fn := c.names().PaymentFunction(region)
	return plan.Step{
		Name: "lift-fence", Description: "lift the fence of the payment service in " + region + " (if fenced) and confirm it",
		Calls: []string{
			"lambda:GetFunctionConcurrency FunctionName=" + fn,
			"lambda:DeleteFunctionConcurrency FunctionName=" + fn + " (if ReservedConcurrentExecutions=0)",
		},
		Timeout: c.timeout(time.Minute),
		Done: func(ctx context.Context) (bool, error) {
			f, err := c.Cloud.WritesFenced(ctx, region)
			return err == nil && !f, err
		},
		Run: func(ctx context.Context, rec plan.Recorder) error {
			fenced, err := c.Cloud.WritesFenced(ctx, region)
			if err != nil {
				return fmt.Errorf("cannot read the fence of %s: %w", region, err)
			}
			if !fenced {
				return nil
			}
			if err := c.Cloud.UnfenceWrites(ctx, region); err != nil {
				return err
			}
			if err := c.waitFence(ctx, region, false); err != nil {
				return err
			}
			return rec.Set(FenceKey(region), "lifted")
		},
	}
}

// FenceKey is the journal value recording what a run did to region's fence.
func FenceKey(region string) string { return "fence-" + region }

// waitFence polls until region's fence is as wanted.
func (c *Controller) waitFence(ctx context.Context, region string, fenced bool) error {
	what := region + " unfenced"
	if fenced {
		what = region + " fenced"
	}
	return plan.Wait(ctx, c.backoff(), what, func(ctx context.Context) (bool, error) {
		f, err := c.Cloud.WritesFenced(ctx, region)
		return err == nil && f == fenced, err
	})
}

func (c *Controller) confirmFenced(old string) plan.Step {
	return plan.Step{
		Name: "confirm-fenced", Description: "the old primary in " + old + " no longer accepts writes",
		Calls:   []string{"rds:DescribeGlobalClusters (read in the new primary's Region, polled)"},
		Timeout: c.timeout(5 * time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			return plan.Wait(ctx, c.backoff(), old+" fenced", func(ctx context.Context) (bool, error) {
				return c.Cloud.OldPrimaryFenced(ctx, old)
			})
		},
	}
}

// keepOldData keeps the old primary's data: the only copy of the lost
// payments. While the old Region is down it cannot be kept yet (Aurora
// takes its snapshot when the Region is back): the step records that and
// drctl reconcile keeps it before reading it.
func (c *Controller) keepOldData(old string) plan.Step {
	return plan.Step{
		Name: "keep-old-data", Description: "keep the old primary's data (the lost writes) in " + old,
		Calls: []string{
			"rds:DescribeDBClusterSnapshots DBClusterIdentifier=" + c.names().ClusterID(old) + " (" + c.names().UnplannedFailoverSnapshotPrefix(old) + "-*)",
			"rds:CopyDBClusterSnapshot -> " + c.names().KeptSnapshotID(old, "<time>"),
		},
		Timeout: c.timeout(2 * time.Minute),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			ref, err := c.Cloud.KeepOldPrimaryData(ctx, old)
			if err != nil {
				c.warn("the old primary's data is not kept yet (%v): run drctl reconcile --from %s once %s is back", err, old, old)
				return rec.Set(OldPrimaryDataKey, fmt.Sprintf("pending: %v", err))
			}
			return rec.Set(OldPrimaryDataKey, ref)
		},
	}
}
