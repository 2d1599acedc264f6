package dr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
)

// OldPrimaryOnlyKey is the journal value of rejoin's comparison: how many
// payments the returned Region holds that the writer lacks.
const OldPrimaryOnlyKey = "oldPrimaryOnly"

// RejoinCommand is the command that makes region a ready standby again.
func RejoinCommand(region string) string { return "drctl rejoin --region " + region }

// Rejoin makes a Region that came back after an unplanned failover a
// ready standby (ARC Region switch's post-recovery workflow): its payment
// service is fenced first (a writable old primary would otherwise take
// payments that exist nowhere else), its database confirmed no longer
// writable and caught up as a replica, its parameters repaired, its old
// data kept and compared with the writer's, and only then the fence lifted.
func (c *Controller) Rejoin(region string) plan.Plan {
	writer := c.Cfg.Other(region)
	p := plan.Plan{Kind: "rejoin", Target: region, Steps: []plan.Step{
		c.rejoinPreflight(region),
		c.fenceService(region),
		c.confirmFenced(region),
		c.waitCaughtUp(region),
		c.updateParameters(writer, true),
		c.compareData(region),
		c.liftFence(region),
	}}
	p.Summary = "rejoin of " + c.Cfg.Environment + ": " + region + " is fenced, checked and made a standby of the writer in " + writer
	return p
}

// CheckRejoin refuses a rejoin of the Region holding the writer before
// anything is confirmed or changed.
func (c *Controller) CheckRejoin(ctx context.Context, region string) error {
	g, err := c.Cloud.GlobalCluster(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the global cluster to check --region: %w", err)
	}
	return rejoinable(g, region)
}

// ErrRejoinWriter: rejoin was asked for the Region holding the writer.
var ErrRejoinWriter = errors.New("holds the writer: rejoin is for a Region that lost it")

func rejoinable(g GlobalCluster, region string) error {
	switch {
	case g.Writer() == region:
		return fmt.Errorf("--region %s %w (run drctl status)", region, ErrRejoinWriter)
	case g.Writer() == "":
		return errors.New("no member holds the writer: nothing to rejoin to")
	case g.MovingTo() != "":
		return fmt.Errorf("a move to %s is in progress: rejoin once it finished", g.MovingTo())
	}
	if _, ok := g.Member(region); !ok {
		return fmt.Errorf("%s has no member of global cluster %s", region, g.ID)
	}
	return nil
}

func (c *Controller) rejoinPreflight(region string) plan.Step {
	return plan.Step{
		Name: "preflight", Description: "another Region holds the writer and no move is in progress",
		Calls:   []string{"rds:DescribeGlobalClusters GlobalClusterIdentifier=" + c.names().GlobalClusterID()},
		Timeout: c.timeout(time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			g, err := c.Cloud.GlobalCluster(ctx)
			if err != nil {
				return err
			}
			return rejoinable(g, region)
		},
	}
}

// fenceService fences region's payment service unless it already is,
// and confirms it. The Region must answer: rejoin is for one that is back.
func (c *Controller) fenceService(region string) plan.Step {
	fn := c.names().PaymentFunction(region)
	return plan.Step{
		Name: "fence-service", Description: "fence the payment service in " + region + " (if it is not) and confirm it",
		Calls: []string{
			"lambda:GetFunctionConcurrency FunctionName=" + fn,
			"lambda:PutFunctionConcurrency FunctionName=" + fn + " ReservedConcurrentExecutions=0 (if not 0)",
		},
		Timeout: c.timeout(2 * time.Minute),
		Done:    func(ctx context.Context) (bool, error) { return c.Cloud.WritesFenced(ctx, region) },
		Run: func(ctx context.Context, rec plan.Recorder) error {
			fenced, err := c.Cloud.WritesFenced(ctx, region)
			if err != nil {
				return fmt.Errorf("cannot read the fence of %s: %w", region, err)
			}
			if fenced {
				return rec.Set(FenceKey(region), "already fenced")
			}
			// A run resumed hours later may find region the writer again (a
			// failback since): fencing it would stop every payment.
			if err := c.checkNotWriter(ctx, region); err != nil {
				return plan.Permanent(err)
			}
			c.warn("%s's payment service was not fenced: fencing it now", region)
			if err := c.Cloud.FenceWrites(ctx, region); err != nil {
				return err
			}
			if err := c.waitFence(ctx, region, true); err != nil {
				return err
			}
			return rec.Set(FenceKey(region), "fenced by rejoin")
		},
	}
}

// checkNotWriter refuses when region holds the database's writer or the
// journal's writer record names it.
func (c *Controller) checkNotWriter(ctx context.Context, region string) error {
	g, err := c.Cloud.GlobalCluster(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the global cluster before fencing %s: %w", region, err)
	}
	if err := rejoinable(g, region); err != nil {
		return err
	}
	w, found, err := c.Cloud.JournalWriter(ctx, g.Writer())
	switch {
	case err != nil:
		return fmt.Errorf("cannot read the journal's writer record before fencing %s: %w", region, err)
	case found && w.Region == region:
		return fmt.Errorf("--region %s is the journal's writer (epoch %d): %w (run drctl status)", region, w.Epoch, ErrRejoinWriter)
	}
	return nil
}

// waitCaughtUp waits until region is an available replica, connected
// (not pending-resync), with a known lag within the budget.
func (c *Controller) waitCaughtUp(region string) plan.Step {
	budget := time.Duration(c.Cfg.Objectives.LagBudgetSeconds) * time.Second
	return plan.Step{
		Name: "wait-caught-up", Description: region + " replicates from the writer again and caught up (lag within " + budget.String() + ")",
		Calls: []string{
			"rds:DescribeGlobalClusters (SynchronizationStatus, polled)",
			"cloudwatch:GetMetricData AuroraGlobalDBRPOLag|AuroraGlobalDBReplicationLag DBClusterIdentifier=" + c.names().ClusterID(region),
		},
		Timeout: c.timeout(30 * time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			var seen, said string
			// Each new state is said as it is seen: a rebuild of a diverged
			// old primary takes minutes, and a silent wait reads as a hang.
			say := func(s string) {
				if seen = s; s != said && c.Log != nil {
					fmt.Fprintf(c.Log, "  waiting for %s to catch up: %s\n", region, s)
					said = s
				}
			}
			err := plan.Wait(ctx, c.backoff(), region+" caught up", func(ctx context.Context) (bool, error) {
				g, err := c.Cloud.GlobalCluster(ctx)
				if err != nil {
					return false, err
				}
				m, _ := g.Member(region)
				switch {
				case m.Writer:
					return false, plan.Permanent(fmt.Errorf("%s %w", region, ErrRejoinWriter))
				case m.Status != "available":
					say("cluster " + orDash(m.Status))
					return false, nil
				case m.SynchronizationStatus != "" && m.SynchronizationStatus != "connected":
					say(m.SynchronizationStatus + " (Aurora rebuilds a diverged old primary from the writer once its Region is reachable)")
					return false, nil
				}
				lag, err := c.Cloud.ReplicationLag(ctx, region)
				if err != nil {
					say("no lag known: " + err.Error())
					return false, nil
				}
				seen = "lag " + lag.String()
				if lag > budget {
					say("lag over the " + budget.String() + " budget")
				}
				return lag <= budget, nil
			})
			if err != nil && seen != "" {
				return fmt.Errorf("%w (last seen: %s)", err, seen)
			}
			return err
		},
	}
}

// compareData keeps region's old data and compares it with the writer's:
// the payments only the old primary holds are listed, never applied here
// (drctl reconcile --apply does that, after a person looked).
func (c *Controller) compareData(region string) plan.Step {
	return plan.Step{
		Name: "compare-data", Description: "keep " + region + "'s old data and compare it with the writer's (reconcile, list only)",
		Calls: []string{
			"rds:DescribeDBClusterSnapshots + rds:CopyDBClusterSnapshot (keep, as keep-old-data)",
			"drctl reconcile --from " + region + " (list only: restore of the kept snapshot, RDS Data API reads)",
		},
		Timeout: c.timeout(time.Hour),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			ref, err := c.Cloud.KeepOldPrimaryData(ctx, region)
			if err != nil {
				return fmt.Errorf("%s's old data could not be kept, so it was not compared: %w", region, err)
			}
			if err := rec.Set(OldPrimaryDataKey, ref); err != nil {
				return err
			}
			rep, err := c.compare(ctx, region)
			if err != nil {
				return err
			}
			only := len(rep.Items)
			if only > 0 {
				c.warn("%d payments only %s holds (of %d scanned): re-apply them with drctl reconcile --from %s --apply", only, region, rep.Scanned, region)
			}
			return rec.Set(OldPrimaryOnlyKey, fmt.Sprintf("%d of %d payments not in the writer (drctl reconcile --from %s lists them, --apply re-applies)", only, rep.Scanned, region))
		},
	}
}

func (c *Controller) compare(ctx context.Context, region string) (reconcile.Report, error) {
	if c.Reconcile == nil {
		return reconcile.Report{}, errors.New("this connection cannot read the old primary's data, so it was not compared")
	}
	src, dst, release, err := c.Reconcile.Open(ctx, region)
	if err != nil {
		return reconcile.Report{}, err
	}
	rep, err := reconcile.Run(ctx, region, src, dst, reconcile.Options{LagBudget: time.Duration(c.Cfg.Objectives.LagBudgetSeconds) * time.Second})
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	return rep, errors.Join(err, release(rctx))
}
