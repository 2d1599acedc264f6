package dr

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Finding is one reason the plan would not succeed now.
type Finding struct {
	Check   string `json:"check"`
	Problem string `json:"problem"`
}

func (f Finding) String() string { return f.Check + ": " + f.Problem }

// Evaluate checks that a switchover or failover to the standby would
// succeed now: permissions, lag, the standby's cluster and Lambda, the
// failover records' health checks, backups, and that the recorded active
// Region matches the real writer. No finding means ready.
func (c *Controller) Evaluate(ctx context.Context) []Finding {
	var out []Finding
	add := func(check, format string, args ...any) {
		out = append(out, Finding{Check: check, Problem: fmt.Sprintf(format, args...)})
	}
	if denied, err := c.Cloud.DeniedActions(ctx); err != nil {
		add("permissions", "could not simulate: %v", err)
	} else if len(denied) > 0 {
		add("permissions", "denied: %s", strings.Join(denied, ", "))
	}
	g, err := c.Cloud.GlobalCluster(ctx)
	if err != nil {
		add("global-cluster", "%v", err)
		return out
	}
	writer := g.Writer()
	if writer == "" {
		add("global-cluster", "no member holds the writer")
		return out
	}
	standby := c.Cfg.Other(writer)
	if g.Status != "available" {
		add("global-cluster", "status is %s", g.Status)
	}
	c.evaluateStandby(ctx, g, standby, add)
	c.evaluateReplication(ctx, writer, standby, add)
	c.evaluateRouting(ctx, standby, add)
	c.evaluateRegions(ctx, writer, add)
	c.evaluateReturned(ctx, g, writer, standby, add)
	return out
}

// evaluateReturned: the fences, and the state a Region is left in when it
// comes back after an unplanned failover (drctl rejoin repairs it). A
// fence is expected only on the old primary of a failover in progress.
func (c *Controller) evaluateReturned(ctx context.Context, g GlobalCluster, writer, standby string, add addFinding) {
	for _, region := range c.Cfg.Regions() {
		fenced, err := c.Cloud.WritesFenced(ctx, region)
		switch {
		case err != nil:
			add("fence", "cannot read the fence of %s: %v", region, err)
		case !fenced || (g.Move.From == region && g.MovingTo() != ""):
		case region == writer:
			add("fence", "the writer's Region %s is fenced: every payment there is refused; lift it: aws lambda delete-function-concurrency --region %s --function-name %s",
				region, region, c.names().PaymentFunction(region))
		default:
			add("standby-capacity", "the payment function in %s has reserved concurrency 0 (a fence left on a Region that is not the old primary of a failover in progress): every request would be throttled; fix: %s",
				region, RejoinCommand(region))
		}
	}
	if fenced, err := c.Cloud.OldPrimaryFenced(ctx, standby); err == nil && !fenced {
		add("old-primary-writable", "the database in %s accepts writes but does not hold the writer (writes there exist nowhere else); fix: %s", standby, RejoinCommand(standby))
	}
}

type addFinding func(check, format string, args ...any)

// evaluateStandby: the standby's cluster can take the writer.
func (c *Controller) evaluateStandby(ctx context.Context, g GlobalCluster, standby string, add addFinding) {
	if m, ok := g.Member(standby); !ok {
		add("standby-cluster", "%s has no member of the global cluster", standby)
	} else {
		if m.Status != "available" {
			add("standby-cluster", "the cluster in %s is %s", standby, m.Status)
		}
		if m.Instances == 0 {
			add("standby-capacity", "the cluster in %s has no DB instance (headless): a failover there has nothing to promote", standby)
		}
		if m.SynchronizationStatus != "" && m.SynchronizationStatus != "connected" {
			add("standby-sync", "the cluster in %s is %s, not connected; fix: %s", standby, m.SynchronizationStatus, RejoinCommand(standby))
		}
	}
	if err := engineMismatch(g); err != nil {
		add("engine-version", "%v", err)
	}
}

// evaluateReplication: the lag is known and within budget.
func (c *Controller) evaluateReplication(ctx context.Context, writer, standby string, add addFinding) {
	budget := time.Duration(c.Cfg.Objectives.LagBudgetSeconds) * time.Second
	if lag, err := c.Cloud.ReplicationLag(ctx, standby); err != nil {
		add("replication-lag", "no lag known, so the RPO is not known: %v", err)
	} else if lag > budget {
		add("replication-lag", "%s into %s, over the %s budget", lag, standby, budget)
	}
	if lat, err := c.Cloud.TableReplicationLatency(ctx, writer); err != nil {
		add("table-replication", "%v", err)
	} else if lat > budget {
		add("table-replication", "%s from %s, over the %s budget", lat, writer, budget)
	}
}

// evaluateRouting: the standby's Lambda and API, and the failover records.
func (c *Controller) evaluateRouting(ctx context.Context, standby string, add addFinding) {
	if fn, err := c.Cloud.Function(ctx, standby); err != nil {
		add("standby-lambda", "%v", err)
	} else {
		if fn.State != "Active" {
			add("standby-lambda", "the payment function in %s is %s, not Active", standby, orDash(fn.State))
		}
	}
	if h, err := c.Cloud.Health(ctx, standby); err != nil || !h.Reachable {
		add("standby-api", "GET /health in %s did not answer: %v", standby, err)
	} else if h.Region == "" {
		add("standby-api", "GET /health in %s answered %s without the service's status (a fenced or failing function)", standby, orDash(h.Status))
	} else if !h.TableReachable {
		add("standby-api", "the payment service in %s cannot reach the session table", standby)
	}
	if problems, err := c.Cloud.FailoverRecordsHaveHealthChecks(ctx); err != nil {
		add("failover-records", "%v", err)
	} else {
		for _, p := range problems {
			add("failover-records", "%s", p)
		}
	}
}

// evaluateRegions: backups and the recorded active Region, per Region.
func (c *Controller) evaluateRegions(ctx context.Context, writer string, add addFinding) {
	maxAge := time.Duration(c.Cfg.Objectives.BackupMaxAgeHours) * time.Hour
	for _, region := range c.Cfg.Regions() {
		t, err := c.Cloud.NewestRecoveryPoint(ctx, region)
		switch {
		case err != nil:
			add("backups", "%s: %v", region, err)
		case c.now().Sub(t) > maxAge:
			add("backups", "newest recovery point in %s is %s old (limit %s)", region, c.now().Sub(t).Round(time.Minute), maxAge)
		}
		if v, err := c.Cloud.Parameter(ctx, region, c.names().ActiveRegionParam()); err == nil && v != writer {
			fix := ""
			if region != writer {
				fix = "; fix: " + RejoinCommand(region)
			}
			add("active-region-parameter", "%s says %s but the writer is in %s%s", region, v, writer, fix)
		}
	}
}
