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
	return out
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
			add("standby-sync", "the cluster in %s is %s, not connected", standby, m.SynchronizationStatus)
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
		if fn.ReservedConcurrency != nil && *fn.ReservedConcurrency == 0 {
			add("standby-capacity", "the payment function in %s has reserved concurrency 0: every request would be throttled", standby)
		}
	}
	if h, err := c.Cloud.Health(ctx, standby); err != nil || !h.Reachable {
		add("standby-api", "GET /health in %s did not answer: %v", standby, err)
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
			add("active-region-parameter", "%s says %s but the writer is in %s", region, v, writer)
		}
	}
}
