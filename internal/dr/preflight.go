package dr

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
)

// preflight checks that target can take the writer. strict is the
// switchover's form (every member available and in sync, the lag known and
// within budget); the unplanned failover only needs the target itself.
func (c *Controller) preflight(target string, strict bool) plan.Step {
	calls := []string{"rds:DescribeGlobalClusters GlobalClusterIdentifier=" + c.names().GlobalClusterID(), "rds:DescribeDBClusters (engine version, instances)"}
	if strict {
		calls = append(calls, "cloudwatch:GetMetricData AuroraGlobalDBRPOLag (Aurora MySQL 3.04+) or AuroraGlobalDBReplicationLag")
	}
	return plan.Step{
		Name: "preflight", Description: "the global cluster is available and " + target + " can take the writer",
		Calls: calls, Timeout: c.timeout(time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			g, err := c.Cloud.GlobalCluster(ctx)
			if err != nil {
				return err
			}
			if err := targetReady(g, target); err != nil {
				return err
			}
			if !strict {
				if m, _ := g.Member(target); m.SynchronizationStatus != "" && m.SynchronizationStatus != "connected" {
					c.warn("%s's synchronization status is %s", target, m.SynchronizationStatus)
				}
				return nil // the writer's Region may be gone: nothing more to require
			}
			if err := allInSync(g); err != nil {
				return err
			}
			lag, err := c.Cloud.ReplicationLag(ctx, target)
			if err != nil {
				return fmt.Errorf("cannot read the replication lag into %s, which a switchover must know: %w", target, err)
			}
			if budget := time.Duration(c.Cfg.Objectives.LagBudgetSeconds) * time.Second; lag > budget {
				return fmt.Errorf("replication lag into %s is %s, over the %ds budget", target, lag, c.Cfg.Objectives.LagBudgetSeconds)
			}
			return nil
		},
	}
}

// targetReady: target is a member that can take the writer, and every
// member that reports an engine version runs the same one.
func targetReady(g GlobalCluster, target string) error {
	m, ok := g.Member(target)
	switch {
	case !ok:
		return fmt.Errorf("%s has no member of global cluster %s", target, g.ID)
	case g.Writer() == target:
		return ErrNothingToDo
	case m.Status != "available":
		return fmt.Errorf("the cluster in %s is %s, not available", target, m.Status)
	case m.Instances == 0:
		return fmt.Errorf("the cluster in %s has no DB instance (headless): it cannot take the writer; add an instance first", target)
	}
	return engineMismatch(g)
}

func engineMismatch(g GlobalCluster) error {
	var first Member
	for _, o := range g.Members {
		if o.EngineVersion == "" {
			continue
		}
		if first.EngineVersion == "" {
			first = o
		} else if o.EngineVersion != first.EngineVersion {
			return fmt.Errorf("engine version %s in %s differs from %s in %s: a managed switchover or failover needs the same version everywhere", o.EngineVersion, o.Region, first.EngineVersion, first.Region)
		}
	}
	return nil
}

func allInSync(g GlobalCluster) error {
	if g.Status != "available" {
		return fmt.Errorf("global cluster is %s, not available", g.Status)
	}
	for _, o := range g.Members {
		if o.Status != "available" {
			return fmt.Errorf("the cluster in %s is %s: a switchover needs every member available (use failover)", o.Region, o.Status)
		}
		if !o.Writer && o.SynchronizationStatus != "" && o.SynchronizationStatus != "connected" {
			return fmt.Errorf("the cluster in %s is %s, not connected: a switchover would wait on it", o.Region, o.SynchronizationStatus)
		}
	}
	return nil
}

// The journal values record-lag sets: the lag in milliseconds, or why it
// is unknown.
const (
	LagAtFailoverMsKey = "lagAtFailoverMs"
	LagAtFailoverKey   = "lagAtFailover"
)

func (c *Controller) recordLag(target string) plan.Step {
	return plan.Step{
		Name: "record-lag", Description: "record the replication lag into " + target + " at the moment of failover",
		Calls:   []string{"cloudwatch:GetMetricData AWS/RDS AuroraGlobalDBRPOLag|AuroraGlobalDBReplicationLag DBClusterIdentifier=" + c.names().ClusterID(target)},
		Timeout: c.timeout(time.Minute),
		Run: func(ctx context.Context, rec plan.Recorder) error {
			lag, err := c.Cloud.ReplicationLag(ctx, target)
			if err != nil {
				return rec.Set(LagAtFailoverKey, "unknown: "+err.Error()) // the failover must not wait on a metric
			}
			return rec.Set(LagAtFailoverMsKey, strconv.FormatInt(lag.Milliseconds(), 10))
		},
	}
}
