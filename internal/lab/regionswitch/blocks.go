package regionswitch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// aurora is the Aurora global database block: the lab's switchover
// (graceful) or failover with data loss (ungraceful), then a wait until
// the activated Region holds the writer, as ARC's block waits for RDS.
func (e *Engine) aurora(ctx context.Context, x *execution, c arcplan.AuroraConfig) error {
	n := naming.New(e.opt.Cfg.Environment, e.opt.Cfg.DomainName)
	if c.GlobalClusterIdentifier != n.GlobalClusterID() {
		return fmt.Errorf("GlobalClusterIdentifier %q is not the lab's %s", c.GlobalClusterIdentifier, n.GlobalClusterID())
	}
	for _, r := range e.opt.Cfg.Regions() {
		if !slices.Contains(c.DatabaseClusterArns, n.ClusterARN(r, e.opt.Cfg.Account)) {
			return fmt.Errorf("DatabaseClusterArns %v lack the cluster of %s", c.DatabaseClusterArns, r)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, e.minutes(orDefault(c.TimeoutMinutes), false))
	defer cancel()
	target := x.Region
	g, err := e.opt.Cloud.GlobalCluster(ctx)
	if err != nil {
		return err
	}
	if g.Writer() != target && g.MovingTo() != target {
		if err := e.sendMove(ctx, x, c, target); err != nil {
			return err
		}
	}
	for {
		g, err := e.opt.Cloud.GlobalCluster(ctx)
		if err == nil {
			if m, _ := g.Member(target); g.Writer() == target && m.Status == "available" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to hold the writer: %w", target, ctx.Err())
		case <-time.After(e.opt.Poll):
		}
	}
}

func (e *Engine) sendMove(ctx context.Context, x *execution, c arcplan.AuroraConfig, target string) error {
	if x.Mode == arcplan.Ungraceful {
		if c.Ungraceful == nil || c.Ungraceful.Ungraceful != "failover" {
			return fmt.Errorf("ungraceful mode, and the block has no ungraceful failover (Ungraceful %+v)", c.Ungraceful)
		}
		e.logf("%s: FailoverGlobalCluster %s AllowDataLoss=true", x.ID, target)
		return e.opt.Cloud.Failover(ctx, target, true)
	}
	switch c.Behavior {
	case "switchoverOnly":
		e.logf("%s: SwitchoverGlobalCluster %s", x.ID, target)
		return e.opt.Cloud.Switchover(ctx, target)
	case "failover":
		e.logf("%s: FailoverGlobalCluster %s (no data loss)", x.ID, target)
		return e.opt.Cloud.Failover(ctx, target, false)
	}
	return fmt.Errorf("the block's Behavior %q is not switchoverOnly or failover", c.Behavior)
}

// route is the Route 53 health check block: ARC's health checks name the
// activated Region healthy, so the failover record answers with it.
func (e *Engine) route(x *execution, c arcplan.Route53Config) error {
	n := naming.New(e.opt.Cfg.Environment, e.opt.Cfg.DomainName)
	if c.RecordName != n.APIHost() {
		return fmt.Errorf("RecordName %q is not the failover name %s", c.RecordName, n.APIHost())
	}
	for _, r := range e.opt.Cfg.Regions() {
		// The failover records' SetIdentifier is their Region (stack).
		if !slices.Contains(c.RecordSets, arcplan.RecordSet{RecordSetIdentifier: r, Region: r}) {
			return fmt.Errorf("RecordSets %v lack the record of %s", c.RecordSets, r)
		}
	}
	e.opt.Route(x.Region)
	return nil
}

// AlarmState says whether the named probe alarm of region is red (the
// lab's probe from region sees no Region take payments).
type AlarmState func(region string) bool

// Watch evaluates the plan's triggers every poll until ctx ends: a
// trigger whose every condition's alarm is red starts an ungraceful
// activation of its Region, unless that Region is the writer's already,
// an execution runs, or the last triggered one is younger than
// MinDelayMinutesBetweenExecutions.
func (e *Engine) Watch(ctx context.Context, red AlarmState) {
	t := time.NewTicker(e.opt.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.evaluateTriggers(ctx, red)
	}
}

func (e *Engine) evaluateTriggers(ctx context.Context, red AlarmState) {
	on, _ := e.Triggers()
	if !on || e.running() {
		return
	}
	g, err := e.opt.Cloud.GlobalCluster(ctx)
	if err != nil {
		return
	}
	for _, tr := range e.opt.Plan.Triggers {
		if tr.Action != arcplan.Activate || tr.TargetRegion == g.Writer() || !e.fires(tr, red) {
			continue
		}
		e.mu.Lock()
		wait := e.minutes(tr.MinDelayMinutesBetweenExecutions, true)
		recent := !e.lastTrigger.IsZero() && time.Since(e.lastTrigger) < wait
		if !recent {
			e.lastTrigger = time.Now()
		}
		e.mu.Unlock()
		if recent {
			continue
		}
		x, err := e.Start(ctx, arcexec.StartRequest{PlanArn: e.opt.PlanArn, TargetRegion: tr.TargetRegion, Action: arcplan.Activate,
			Mode: arcplan.Ungraceful, Comment: "triggered: " + tr.Description})
		if err != nil {
			e.logf("trigger %s: %v", tr.TargetRegion, err)
			continue
		}
		e.logf("trigger fired: %s started %s", tr.Description, x.ID)
		return
	}
}

func (e *Engine) running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.execs, func(x *execution) bool { return !x.Finished() })
}

// fires reports whether every condition holds. The lab knows the alarms
// the stack creates: each probe's "no writable Region seen" alarm; a
// condition on any other alarm never holds, so a wrong plan never fires.
func (e *Engine) fires(tr arcplan.Trigger, red AlarmState) bool {
	n := naming.New(e.opt.Cfg.Environment, e.opt.Cfg.DomainName)
	for _, c := range tr.Conditions {
		a, ok := e.opt.Plan.AssociatedAlarms[c.AssociatedAlarmName]
		if !ok || a.AlarmType != "trigger" {
			return false
		}
		region := ""
		for _, r := range e.opt.Cfg.Regions() {
			if a.ResourceIdentifier == naming.AlarmARN(r, e.opt.Cfg.Account, n.NoWritableRegionSeenAlarm(r)) {
				region = r
			}
		}
		if region == "" || (c.Condition == "red") != red(region) {
			return false
		}
	}
	return len(tr.Conditions) > 0
}
