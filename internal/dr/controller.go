package dr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/journal"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Controller builds and runs plans for one environment.
type Controller struct {
	Cfg   config.Config
	Cloud Cloud
	Clock plan.Clock
	// Poll is how often steps re-check AWS while waiting (default 5 s).
	Poll time.Duration
	Log  io.Writer
}

func (c *Controller) names() naming.Names { return naming.New(c.Cfg.Environment, c.Cfg.DomainName) }

func (c *Controller) poll() time.Duration {
	if c.Poll > 0 {
		return c.Poll
	}
	return 5 * time.Second
}

func (c *Controller) now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

// CheckRegion validates a --to value.
func (c *Controller) CheckRegion(region string) error {
	if !slices.Contains(c.Cfg.Regions(), region) {
		return fmt.Errorf("--to %q is not a Region of this environment (%s or %s)", region, c.Cfg.PrimaryRegion, c.Cfg.SecondaryRegion)
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

// Switchover is the planned move of the writer to target: no data loss.
func (c *Controller) Switchover(target string) plan.Plan {
	n := c.names()
	return plan.Plan{Kind: "switchover", Target: target, Steps: []plan.Step{
		c.preflight(target, false),
		{
			Name: "switch-writer", Description: "move the writer to " + target + " without data loss",
			Calls:   []string{"rds:SwitchoverGlobalCluster GlobalClusterIdentifier=" + n.GlobalClusterID() + " TargetDbClusterIdentifier=arn:aws:rds:" + target + ":" + c.Cfg.Account + ":cluster:" + n.ClusterID(target)},
			Timeout: 2 * time.Minute,
			Done:    c.writerIs(target),
			Run:     func(ctx context.Context) error { return c.Cloud.Switchover(ctx, target) },
		},
		c.waitTopology(target, true),
		c.verifyWrites(target),
		c.updateParameters(target, true),
		c.verifyDNS(target, true),
	}}
}

// Failover promotes target when the writer's Region is impaired. With
// allowDataLoss it is the unplanned form: writes not yet replicated are
// lost, and the lag at that moment is recorded in the journal.
func (c *Controller) Failover(target string, allowDataLoss bool, run *journal.Run) plan.Plan {
	n := c.names()
	call := "rds:FailoverGlobalCluster GlobalClusterIdentifier=" + n.GlobalClusterID() + " TargetDbClusterIdentifier=arn:aws:rds:" + target + ":" + c.Cfg.Account + ":cluster:" + n.ClusterID(target)
	if allowDataLoss {
		call += " AllowDataLoss=true"
	}
	return plan.Plan{Kind: "failover", Target: target, Steps: []plan.Step{
		c.preflight(target, true),
		{
			Name: "record-lag", Description: "record the replication lag into " + target + " at the moment of failover",
			Calls:   []string{"cloudwatch:GetMetricData AWS/RDS AuroraGlobalDBReplicationLag DBClusterIdentifier=" + n.ClusterID(target)},
			Timeout: time.Minute,
			Run: func(ctx context.Context) error {
				lag, err := c.Cloud.ReplicationLag(ctx, target)
				if err != nil {
					run.Values["lagAtFailover"] = "unknown: " + err.Error()
					return nil // the failover must not wait on a metric
				}
				run.Values["lagAtFailoverMs"] = strconv.FormatInt(lag.Milliseconds(), 10)
				return nil
			},
		},
		{
			Name: "promote", Description: "promote " + target + " to writer",
			Calls: []string{call}, Timeout: 2 * time.Minute,
			Done: c.writerIs(target),
			Run:  func(ctx context.Context) error { return c.Cloud.Failover(ctx, target, allowDataLoss) },
		},
		c.waitTopology(target, false),
		c.verifyWrites(target),
		c.updateParameters(target, false),
		c.verifyDNS(target, false),
	}}
}

// Failback is the switchover back to the configured primary once the
// Region that was lost is healthy again.
func (c *Controller) Failback() plan.Plan {
	p := c.Switchover(c.Cfg.PrimaryRegion)
	p.Kind = "failback"
	return p
}

// writerIs is the Done check of the step that moves the writer: done when
// region holds it or a move to region is already under way (a run
// interrupted right after sending the request must not send it again;
// wait-topology waits for it to finish).
func (c *Controller) writerIs(region string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		g, err := c.Cloud.GlobalCluster(ctx)
		return err == nil && (g.Writer() == region || g.MovingTo == region), err
	}
}

// ErrNothingToDo: the writer is already where the run would move it.
var ErrNothingToDo = errors.New("the writer is already in the target Region")

func (c *Controller) preflight(target string, failover bool) plan.Step {
	desc := "the global cluster is available and " + target + " can take the writer"
	return plan.Step{
		Name: "preflight", Description: desc,
		Calls:   []string{"rds:DescribeGlobalClusters GlobalClusterIdentifier=" + c.names().GlobalClusterID(), "cloudwatch:GetMetricData AuroraGlobalDBReplicationLag"},
		Timeout: time.Minute,
		Run: func(ctx context.Context) error {
			g, err := c.Cloud.GlobalCluster(ctx)
			if err != nil {
				return err
			}
			m, ok := g.Member(target)
			if !ok {
				return fmt.Errorf("%s has no member of global cluster %s", target, g.ID)
			}
			if g.Writer() == target {
				return ErrNothingToDo
			}
			if m.Status != "available" {
				return fmt.Errorf("the cluster in %s is %s, not available", target, m.Status)
			}
			if m.Instances == 0 {
				return fmt.Errorf("the cluster in %s has no DB instance (headless): it cannot take the writer; add an instance first", target)
			}
			if failover {
				return nil // the writer's Region may be gone: nothing more to require
			}
			if g.Status != "available" {
				return fmt.Errorf("global cluster is %s, not available", g.Status)
			}
			for _, o := range g.Members {
				if o.Status != "available" {
					return fmt.Errorf("the cluster in %s is %s: a switchover needs every member available (use failover)", o.Region, o.Status)
				}
			}
			lag, err := c.Cloud.ReplicationLag(ctx, target)
			if err == nil && lag > time.Duration(c.Cfg.Objectives.LagBudgetSeconds)*time.Second {
				return fmt.Errorf("replication lag into %s is %s, over the %ds budget", target, lag, c.Cfg.Objectives.LagBudgetSeconds)
			}
			return nil
		},
	}
}

func (c *Controller) waitTopology(target string, allMembers bool) plan.Step {
	return plan.Step{
		Name: "wait-topology", Description: "wait until " + target + " holds the writer and the cluster is available",
		Calls:   []string{"rds:DescribeGlobalClusters (polled)"},
		Timeout: 15 * time.Minute,
		Run: func(ctx context.Context) error {
			return plan.Wait(ctx, c.poll(), "the new topology", func(ctx context.Context) (bool, error) {
				g, err := c.Cloud.GlobalCluster(ctx)
				if err != nil {
					return false, err
				}
				m, _ := g.Member(target)
				if g.Writer() != target || m.Status != "available" {
					return false, nil
				}
				if allMembers {
					if g.Status != "available" {
						return false, nil
					}
					for _, o := range g.Members {
						if o.Status != "available" {
							return false, nil
						}
					}
				}
				return true, nil
			})
		},
	}
}

func (c *Controller) verifyWrites(target string) plan.Step {
	return plan.Step{
		Name: "verify-writes", Description: "the payment service in " + target + " reports a writable database",
		Calls:   []string{"GET https://" + c.names().RegionalAPIHost(target) + "/health (polled)"},
		Timeout: 5 * time.Minute,
		Run: func(ctx context.Context) error {
			return plan.Wait(ctx, c.poll(), target+" /health dbWritable", func(ctx context.Context) (bool, error) {
				h, err := c.Cloud.Health(ctx, target)
				return err == nil && h.DBWritable && h.TableReachable, err
			})
		},
	}
}

func (c *Controller) updateParameters(target string, requireBoth bool) plan.Step {
	n := c.names()
	return plan.Step{
		Name: "update-parameters", Description: "record " + target + " as the active Region and its writer endpoint",
		Calls: []string{
			"ssm:PutParameter " + n.ActiveRegionParam() + "=" + target + " (both Regions)",
			"ssm:PutParameter " + n.WriterEndpointParam() + "=<writer endpoint> (both Regions)",
		},
		Timeout: 2 * time.Minute,
		// Done only when every Region that must be updated names the
		// target and its endpoint: a run interrupted half-way through the
		// Regions is finished on resume, not skipped.
		Done: func(ctx context.Context) (bool, error) {
			g, err := c.Cloud.GlobalCluster(ctx)
			if err != nil {
				return false, err
			}
			m, _ := g.Member(target)
			regions := []string{target}
			if requireBoth {
				regions = c.Cfg.Regions()
			}
			for _, region := range regions {
				active, err := c.Cloud.Parameter(ctx, region, n.ActiveRegionParam())
				if err != nil {
					return false, err
				}
				endpoint, err := c.Cloud.Parameter(ctx, region, n.WriterEndpointParam())
				if err != nil {
					return false, err
				}
				if active != target || endpoint != m.Endpoint {
					return false, nil
				}
			}
			return true, nil
		},
		Run: func(ctx context.Context) error {
			g, err := c.Cloud.GlobalCluster(ctx)
			if err != nil {
				return err
			}
			m, _ := g.Member(target)
			var errs []error
			for _, region := range c.Cfg.Regions() {
				err := errors.Join(
					c.Cloud.PutParameter(ctx, region, n.ActiveRegionParam(), target),
					c.Cloud.PutParameter(ctx, region, n.WriterEndpointParam(), m.Endpoint))
				if err == nil {
					continue
				}
				if region == target || requireBoth {
					errs = append(errs, fmt.Errorf("%s: %w", region, err))
				} else if c.Log != nil {
					// The lost Region is updated by the failback.
					fmt.Fprintf(c.Log, "  warning: parameters in %s not updated (%v); failback will\n", region, err)
				}
			}
			return errors.Join(errs...)
		},
	}
}

func (c *Controller) verifyDNS(target string, oldMustFail bool) plan.Step {
	old := c.Cfg.Other(target)
	n := c.names()
	desc := "Route 53 sees " + target + " healthy"
	if oldMustFail {
		desc += " and " + old + " unhealthy"
	}
	desc += "; " + n.APIHost() + " answers from " + target
	return plan.Step{
		Name: "verify-dns", Description: desc,
		Calls: []string{
			"route53:GetHealthCheckStatus HealthCheckId=<" + n.HealthCheckParam(target) + "> (and " + old + "'s, polled)",
			"GET https://" + n.APIHost() + "/health until its \"region\" is " + target + " (polled, record TTL 60 s)",
		},
		Timeout: 5 * time.Minute,
		Run: func(ctx context.Context) error {
			var seen string
			err := plan.Wait(ctx, c.poll(), "health checks and DNS to follow the writer", func(ctx context.Context) (bool, error) {
				up, err := c.Cloud.HealthCheckHealthy(ctx, target)
				if err != nil || !up {
					seen = target + " health check not healthy yet"
					return false, err
				}
				if oldMustFail {
					oldUp, err := c.Cloud.HealthCheckHealthy(ctx, old)
					if err != nil || oldUp {
						seen = old + " health check still healthy"
						return false, err
					}
				}
				h, err := c.Cloud.FailoverHealth(ctx)
				if err != nil {
					seen = n.APIHost() + " did not answer"
					return false, err
				}
				if h.Region != target {
					seen = n.APIHost() + " answered from " + orDash(h.Region)
					return false, nil
				}
				return true, nil
			})
			if err != nil && seen != "" {
				return fmt.Errorf("%w (last seen: %s)", err, seen)
			}
			return err
		},
	}
}
