package regionswitch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/action"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// run executes the workflow's steps in order, as ARC does: a step that
// fails ends the execution (ARC pauses it for the operator; the lab
// reports it failed).
func (e *Engine) run(ctx context.Context, x *execution, w arcplan.Workflow) {
	defer x.cancel()
	e.logf("%s: %s %s of %s started (%d steps)", x.ID, x.Mode, x.Action, x.Region, len(w.Steps))
	for i, s := range w.Steps {
		if x.Mode == arcplan.Ungraceful && skippedWhenUngraceful(s) {
			e.setStep(x, i, arcexec.StepSkipped)
			continue
		}
		e.setStep(x, i, arcexec.StepRunning)
		err := e.step(ctx, x, i, s)
		switch {
		case err == nil:
			e.setStep(x, i, arcexec.StepCompleted)
			e.logf("%s: %s completed", x.ID, s.Name)
			continue
		case ctx.Err() != nil:
			e.setStep(x, i, arcexec.StepCancelled)
			e.setState(x, arcexec.StateCancelled)
		default:
			e.setStep(x, i, arcexec.StepFailed)
			e.setState(x, arcexec.StateFailed)
		}
		e.logf("%s: %s: %v", x.ID, s.Name, err)
		return
	}
	e.setState(x, arcexec.StateCompleted)
	e.logf("%s: completed", x.ID)
}

func skippedWhenUngraceful(s arcplan.Step) bool {
	c := s.ExecutionBlockConfiguration.CustomActionLambdaConfig
	return c != nil && c.Ungraceful != nil && c.Ungraceful.Behavior == "skip"
}

func (e *Engine) step(ctx context.Context, x *execution, i int, s arcplan.Step) error {
	c := s.ExecutionBlockConfiguration
	switch s.ExecutionBlockType {
	case arcplan.BlockApproval:
		if c.ExecutionApprovalConfig == nil {
			return errors.New("a ManualApproval step without ExecutionApprovalConfig")
		}
		return e.approval(ctx, x, i, e.minutes(orDefault(c.ExecutionApprovalConfig.TimeoutMinutes), false))
	case arcplan.BlockLambda:
		if c.CustomActionLambdaConfig == nil {
			return errors.New("a CustomActionLambda step without CustomActionLambdaConfig")
		}
		return e.lambda(ctx, x, s.Name, *c.CustomActionLambdaConfig)
	case arcplan.BlockAurora:
		if c.GlobalAuroraConfig == nil {
			return errors.New("an AuroraGlobalDatabase step without GlobalAuroraConfig")
		}
		return e.aurora(ctx, x, *c.GlobalAuroraConfig)
	case arcplan.BlockRoute53:
		if c.Route53HealthCheckConfig == nil {
			return errors.New("a Route53HealthCheck step without Route53HealthCheckConfig")
		}
		return e.route(x, *c.Route53HealthCheckConfig)
	}
	return fmt.Errorf("the lab has no stand-in for %s blocks", s.ExecutionBlockType)
}

// orDefault is ARC's default TimeoutMinutes (60) where a block sets none.
func orDefault(m float64) float64 {
	if m <= 0 {
		return 60
	}
	return m
}

func (e *Engine) approval(ctx context.Context, x *execution, i int, timeout time.Duration) error {
	e.mu.Lock()
	auto := e.autoApprove
	e.mu.Unlock()
	if auto {
		e.logf("%s: %s granted by the lab (--auto-failover)", x.ID, x.Steps[i].Name)
		return nil
	}
	e.setStep(x, i, arcexec.StepPendingApproval)
	e.setState(x, arcexec.StatePendingApproval)
	defer e.setState(x, arcexec.StateInProgress)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ok := <-x.approval:
		if !ok {
			return errors.New("declined")
		}
		return nil
	case <-t.C:
		return fmt.Errorf("not approved within %s", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lambda invokes the step's function in the Region ARC runs it in,
// again every RetryIntervalMinutes until TimeoutMinutes.
func (e *Engine) lambda(ctx context.Context, x *execution, name string, c arcplan.LambdaConfig) error {
	region, err := e.runRegion(x, c.RegionToRun)
	if err != nil {
		return err
	}
	want := naming.FunctionARN(region, e.opt.Cfg.Account, naming.New(e.opt.Cfg.Environment, e.opt.Cfg.DomainName).ActionFunction(region))
	if !slices.ContainsFunc(c.Lambdas, func(l arcplan.Lambda) bool { return l.Arn == want }) {
		return fmt.Errorf("the step names no function in %s (want %s, the plan has %v)", region, want, c.Lambdas)
	}
	ctx, cancel := context.WithTimeout(ctx, e.minutes(orDefault(c.TimeoutMinutes), false))
	defer cancel()
	ev := action.Event{InvokedBy: "ARC Region switch (drlab)", PlanArn: x.PlanArn, ExecutionId: x.ID, StepName: name}
	for attempt := 1; ; attempt++ {
		err := e.opt.Invoke(ctx, region, ev)
		if err == nil {
			return nil
		}
		e.logf("%s: %s attempt %d in %s: %v", x.ID, name, attempt, region, err)
		if errors.Is(err, action.ErrBadEvent) {
			return err // the same event fails the same way
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(e.minutes(c.RetryIntervalMinutes, true)):
		}
	}
}

// runRegion is the Region a custom action runs in (ARC API Reference,
// CustomActionLambdaConfiguration.regionToRun).
func (e *Engine) runRegion(x *execution, where string) (string, error) {
	switch where {
	case arcplan.RunInActivating, arcplan.RunInActive:
		// An activation's activating Region is its target; a post-recovery
		// execution names the active Region.
		return x.Region, nil
	case "deactivatingRegion", "inactiveRegion":
		return e.opt.Cfg.Other(x.Region), nil
	}
	return "", fmt.Errorf("RegionToRun %q is not one ARC knows", where)
}
