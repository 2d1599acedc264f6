package regionswitch

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/action"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Options are the lab's mechanisms behind the plan's blocks.
type Options struct {
	Plan    arcplan.Plan
	PlanArn string
	Cfg     config.Config
	// Cloud is the lab's world as drctl sees it: the Aurora block moves
	// the writer through it.
	Cloud dr.Cloud
	// Invoke runs the action function of region with ARC's event.
	Invoke func(ctx context.Context, region string, ev action.Event) error
	// Route makes the failover name answer with region (Route 53 block).
	Route func(region string)
	// Minute is one ARC minute of RetryIntervalMinutes and
	// MinDelayMinutesBetweenExecutions in the lab (the lab's other timers
	// are scaled likewise); timeouts stay real minutes.
	Minute time.Duration
	Poll   time.Duration
	Log    io.Writer
}

// Engine executes the plan.
type Engine struct {
	opt Options

	mu          sync.Mutex
	execs       []*execution // oldest first
	seq         int
	triggers    bool // the plan's triggers are evaluated
	autoApprove bool // manual approvals are granted by the lab
	lastTrigger time.Time
}

type execution struct {
	arcexec.Execution
	approval chan bool
	cancel   context.CancelFunc
}

// New checks that the plan is one the lab can run for cfg.
func New(opt Options) (*Engine, error) {
	if opt.Minute <= 0 {
		opt.Minute = time.Second
	}
	if opt.Poll <= 0 {
		opt.Poll = 250 * time.Millisecond
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	p := opt.Plan
	if p.Name != naming.New(opt.Cfg.Environment, opt.Cfg.DomainName).RegionSwitchPlan() {
		return nil, fmt.Errorf("the template's plan is %q, not the plan of environment %s", p.Name, opt.Cfg.Environment)
	}
	if !slices.Equal(sortedCopy(p.Regions), sortedCopy(opt.Cfg.Regions())) {
		return nil, fmt.Errorf("the plan's Regions %v are not the lab's %v", p.Regions, opt.Cfg.Regions())
	}
	return &Engine{opt: opt}, nil
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// SetTriggers turns the plan's triggers on or off, and whether the lab
// grants manual approvals itself (drlab up --auto-failover).
func (e *Engine) SetTriggers(on, autoApprove bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.triggers, e.autoApprove = on, autoApprove
}

// Triggers reports the trigger settings.
func (e *Engine) Triggers() (on, autoApprove bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.triggers, e.autoApprove
}

// PlanARN implements arcexec.Service.
func (e *Engine) PlanARN(_ context.Context, name string) (string, error) {
	if name != e.opt.Plan.Name {
		return "", fmt.Errorf("plan %q: %w", name, arcexec.ErrNotFound)
	}
	return e.opt.PlanArn, nil
}

// Start implements arcexec.Service (StartPlanExecution).
func (e *Engine) Start(_ context.Context, r arcexec.StartRequest) (arcexec.Execution, error) {
	if r.PlanArn != e.opt.PlanArn {
		return arcexec.Execution{}, fmt.Errorf("plan %s: %w", r.PlanArn, arcexec.ErrNotFound)
	}
	if r.Mode == "" {
		r.Mode = arcplan.Graceful
	}
	if r.Mode != arcplan.Graceful && r.Mode != arcplan.Ungraceful {
		return arcexec.Execution{}, fmt.Errorf("mode %q is not graceful or ungraceful: %w", r.Mode, arcexec.ErrConflict)
	}
	if !slices.Contains(e.opt.Plan.Regions, r.TargetRegion) {
		return arcexec.Execution{}, fmt.Errorf("target Region %q is not one of the plan's %v: %w", r.TargetRegion, e.opt.Plan.Regions, arcexec.ErrConflict)
	}
	w, ok := e.workflow(r.Action, r.TargetRegion)
	if !ok {
		return arcexec.Execution{}, fmt.Errorf("the plan has no %s workflow for %s: %w", r.Action, r.TargetRegion, arcexec.ErrConflict)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.execs {
		if !x.Finished() {
			return arcexec.Execution{}, fmt.Errorf("execution %s is %s: one execution of a plan at a time: %w", x.ID, x.State, arcexec.ErrConflict)
		}
	}
	e.seq++
	x := &execution{Execution: arcexec.Execution{
		PlanArn: r.PlanArn, ID: fmt.Sprintf("lab-%s-%d", time.Now().UTC().Format("20060102t150405"), e.seq),
		Action: r.Action, Mode: r.Mode, Region: r.TargetRegion, State: arcexec.StateInProgress, Comment: r.Comment, Started: time.Now().UTC(),
	}, approval: make(chan bool, 1)}
	for _, s := range w.Steps {
		x.Steps = append(x.Steps, arcexec.StepState{Name: s.Name, Status: arcexec.StepNotStarted})
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	e.execs = append(e.execs, x)
	go e.run(ctx, x, w)
	return x.Execution, nil
}

func (e *Engine) workflow(action, region string) (arcplan.Workflow, bool) {
	for _, w := range e.opt.Plan.Workflows {
		if w.WorkflowTargetAction == action && (w.WorkflowTargetRegion == "" || w.WorkflowTargetRegion == region) {
			return w, true
		}
	}
	return arcplan.Workflow{}, false
}

// Get implements arcexec.Service.
func (e *Engine) Get(_ context.Context, planArn, id string) (arcexec.Execution, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.find(planArn, id)
	if err != nil {
		return arcexec.Execution{}, err
	}
	return x.snapshot(), nil
}

func (x *execution) snapshot() arcexec.Execution {
	out := x.Execution
	out.Steps = slices.Clone(x.Steps)
	return out
}

func (e *Engine) find(planArn, id string) (*execution, error) {
	for _, x := range e.execs {
		if x.PlanArn == planArn && x.ID == id {
			return x, nil
		}
	}
	return nil, fmt.Errorf("execution %s of %s: %w", id, planArn, arcexec.ErrNotFound)
}

// List implements arcexec.Service: newest first.
func (e *Engine) List(_ context.Context, planArn string) ([]arcexec.Execution, error) {
	if planArn != e.opt.PlanArn {
		return nil, fmt.Errorf("plan %s: %w", planArn, arcexec.ErrNotFound)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []arcexec.Execution
	for i := len(e.execs) - 1; i >= 0; i-- {
		out = append(out, e.execs[i].snapshot())
	}
	return out, nil
}

// Approve implements arcexec.Service (ApprovePlanExecutionStep).
func (e *Engine) Approve(_ context.Context, planArn, id, step string, approve bool, comment string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.find(planArn, id)
	if err != nil {
		return err
	}
	pending, ok := x.PendingApproval()
	if !ok || pending != step {
		return fmt.Errorf("step %q of %s is not waiting for approval: %w", step, id, arcexec.ErrConflict)
	}
	select {
	case x.approval <- approve:
	default:
		return fmt.Errorf("step %q of %s was already answered: %w", step, id, arcexec.ErrConflict)
	}
	fmt.Fprintf(e.opt.Log, "regionswitch: %s %s approved=%v (%s)\n", id, step, approve, comment)
	return nil
}

// Cancel implements arcexec.Service.
func (e *Engine) Cancel(_ context.Context, planArn, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.find(planArn, id)
	if err != nil {
		return err
	}
	if x.Finished() {
		return fmt.Errorf("execution %s is %s: %w", id, x.State, arcexec.ErrConflict)
	}
	x.cancel()
	return nil
}

// minutes converts an ARC field in minutes into the lab's time.
func (e *Engine) minutes(m float64, scaled bool) time.Duration {
	unit := time.Minute
	if scaled {
		unit = e.opt.Minute
	}
	return time.Duration(m * float64(unit))
}

func (e *Engine) setStep(x *execution, i int, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &x.Steps[i]
	s.Status = status
	now := time.Now().UTC()
	switch status {
	case arcexec.StepRunning:
		s.Started = now
	case arcexec.StepCompleted, arcexec.StepFailed, arcexec.StepSkipped, arcexec.StepCancelled:
		if s.Started.IsZero() {
			s.Started = now
		}
		s.Ended = now
	}
}

func (e *Engine) setState(x *execution, state string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x.State = state
	if x.Finished() {
		x.Ended = time.Now().UTC()
	}
}

func (e *Engine) logf(format string, args ...any) {
	fmt.Fprintf(e.opt.Log, time.Now().UTC().Format("15:04:05.000")+" regionswitch: "+format+"\n", args...)
}

// PlanArn is the plan's ARN in the lab.
func (e *Engine) PlanArn() string { return e.opt.PlanArn }
