package dr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Controller builds and runs plans for one environment.
type Controller struct {
	Cfg   config.Config
	Cloud Cloud
	Clock plan.Clock
	// Poll is the shortest wait between re-checks of AWS (default 5 s);
	// waits back off from it to six times it.
	Poll time.Duration
	Log  io.Writer
	// Timeout, if set, caps every step's timeout (tests).
	Timeout time.Duration
	// Reconcile opens the old primary's data and the writer's (rejoin
	// compares them); nil when the connection cannot.
	Reconcile reconcile.Access
	// ReplayFrom, when set, is where the failover's journal replay starts
	// if that is earlier than the start the new writer's database gives,
	// or if it gives none (drctl failover --replay-from).
	ReplayFrom time.Time
}

func (c *Controller) names() naming.Names { return naming.New(c.Cfg.Environment, c.Cfg.DomainName) }

func (c *Controller) backoff() plan.Backoff {
	p := c.Poll
	if p <= 0 {
		p = 5 * time.Second
	}
	return plan.Backoff{Min: p, Max: 6 * p}
}

func (c *Controller) now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

func (c *Controller) timeout(d time.Duration) time.Duration {
	if c.Timeout > 0 && c.Timeout < d {
		return c.Timeout
	}
	return d
}

func (c *Controller) warn(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "  warning: "+format+"\n", args...)
	}
}

// CheckRegion validates a --to value: a move's target is one of the
// environment's two Regions.
func (c *Controller) CheckRegion(region string) error {
	if !slices.Contains(c.Cfg.Regions(), region) {
		return fmt.Errorf("--to %q is not a Region of %s (%s or %s)", region, c.Cfg.Environment, c.Cfg.PrimaryRegion, c.Cfg.SecondaryRegion)
	}
	return nil
}

// CheckTarget refuses a run whose target already holds the writer, before
// anything is confirmed or changed.
func (c *Controller) CheckTarget(ctx context.Context, target string) error {
	g, err := c.Cloud.GlobalCluster(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the global cluster to check --to: %w", err)
	}
	if g.Writer() == target {
		return fmt.Errorf("--to %s: %w (run drctl status)", target, ErrNothingToDo)
	}
	return nil
}

// ErrNothingToDo: the writer is already where the run would move it.
var ErrNothingToDo = errors.New("the writer is already in the target Region")

func (c *Controller) moveCall(op, target string) string {
	n := c.names()
	return "rds:" + op + " GlobalClusterIdentifier=" + n.GlobalClusterID() + " TargetDbClusterIdentifier=" + n.ClusterARN(target, c.Cfg.Account)
}

// Switchover is the planned move of the writer to target: no data loss.
func (c *Controller) Switchover(target string) plan.Plan {
	return plan.Plan{Kind: "switchover", Target: target, MoveStep: "switch-writer", Steps: []plan.Step{
		c.preflight(target, true),
		{
			Name: "switch-writer", Description: "move the writer to " + target + " without data loss",
			Calls:   []string{c.moveCall("SwitchoverGlobalCluster", target)},
			Timeout: c.timeout(2 * time.Minute),
			Done:    c.writerIs(target),
			Run: func(ctx context.Context, rec plan.Recorder) error {
				if err := rec.MarkMove(); err != nil {
					return err
				}
				return c.Cloud.Switchover(ctx, target)
			},
		},
		c.waitTopology(target, "switch-writer", false),
		c.setWriterEpoch(target),
		c.liftFence(target),
		c.verifyWrites(target),
		c.updateParameters(target, true),
		c.verifyDNS(target),
		c.waitStandbySync(),
	}}
}

// Failover promotes target. With allowDataLoss it is the unplanned form
// for a lost writer Region: the old Region's writes are fenced first where
// it answers, the lag at that moment is recorded, the journal's writer
// record names target before the promotion (the fence that holds wherever
// the old Region's service still runs), and afterwards the old primary is
// confirmed fenced, the journal replayed and its data (the lost writes)
// kept.
// Without it, FailoverGlobalCluster is a switchover and is checked like one.
func (c *Controller) Failover(target string, allowDataLoss bool) plan.Plan {
	call := c.moveCall("FailoverGlobalCluster", target)
	if allowDataLoss {
		call += " AllowDataLoss=true"
	}
	promote := plan.Step{
		Name: "promote", Description: "promote " + target + " to writer",
		Calls: []string{call}, Timeout: c.timeout(2 * time.Minute),
		Done: c.writerIs(target),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			if err := rec.MarkMove(); err != nil {
				return err
			}
			return c.Cloud.Failover(ctx, target, allowDataLoss)
		},
	}
	if !allowDataLoss {
		return plan.Plan{Kind: "failover", Target: target, MoveStep: "promote", Steps: []plan.Step{
			c.preflight(target, true), promote, c.waitTopology(target, "promote", false),
			c.setWriterEpoch(target), c.liftFence(target), c.verifyWrites(target), c.updateParameters(target, true), c.verifyDNS(target),
			c.waitStandbySync(),
		}}
	}
	old := c.Cfg.Other(target)
	return plan.Plan{Kind: "failover", Target: target, MoveStep: "promote", Steps: []plan.Step{
		c.preflight(target, false), c.recordLag(target), c.fenceWrites(old), c.setWriterEpoch(target), promote,
		c.waitTopology(target, "promote", false), c.confirmFenced(old), c.liftFence(target), c.replayJournal(target),
		c.verifyWrites(target), c.updateParameters(target, false), c.verifyDNS(target), c.keepOldData(old),
	}}
}

// Failback is the switchover back to the configured primary once the
// Region that was lost is healthy again; its payment service, fenced by
// the failover, is let write again by the switchover's lift-fence step.
func (c *Controller) Failback() plan.Plan {
	p := c.Switchover(c.Cfg.PrimaryRegion)
	p.Kind = "failback"
	return p
}

// writerIs is the Done check of the step that moves the writer: done when
// region holds it or a move to region (not being cancelled) is under way
// (a run interrupted right after sending the request must not send it
// again; wait-topology waits for it to finish).
func (c *Controller) writerIs(region string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		g, err := c.Cloud.GlobalCluster(ctx)
		return err == nil && (g.Writer() == region || g.MovingTo() == region), err
	}
}
