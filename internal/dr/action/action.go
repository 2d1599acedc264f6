// Package action runs one custom-action step of the ARC Region switch
// plan with drctl's own step code: the drctl-action function on AWS, and
// the DR lab's Region switch stand-in, invoke it with ARC's event. The
// execution's action and mode decide which drctl plan the step belongs
// to (a graceful activation is drctl's switchover, an ungraceful one its
// unplanned failover, a post-recovery its rejoin); the steps share one
// drctl journal per execution, mirrored like drctl's own runs, so a value
// one step records (the move's start, the lag, the writer epoch) reaches
// the steps after it whichever sandbox runs them.
package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// Event is what ARC Region switch sends a custom action's function when
// the step has no payload (ARC API Reference, Lambdas.payload: "Region
// switch invokes the function with only the execution metadata":
// InvokedBy, PlanArn, ExecutionId, StepName). AWS::ARCRegionSwitch::Plan
// has no payload property, so this is every invocation's event.
type Event struct {
	InvokedBy   string `json:"InvokedBy"`
	PlanArn     string `json:"PlanArn"`
	ExecutionId string `json:"ExecutionId"`
	StepName    string `json:"StepName"`
}

// Result is what the invocation returns (and ARC's report shows).
type Result struct {
	Step      string `json:"step"`
	Kind      string `json:"kind"`
	Target    string `json:"target"`
	DrctlStep string `json:"drctlStep,omitempty"`
	RunID     string `json:"runId,omitempty"`
	Ran       bool   `json:"ran"`
	Note      string `json:"note,omitempty"`
}

// Handler runs steps for one environment.
type Handler struct {
	// Controller builds drctl's plans (its Cfg and Cloud are the
	// function's; its Log receives the step's log).
	Controller *dr.Controller
	Executions arcexec.Service
	// Dir holds the journals (the function's /tmp; the lab's directory).
	Dir string
	// Mirror returns the journal mirror of a run moving the writer to
	// target (nil: none).
	Mirror func(target string) runlog.Mirror
	Clock  plan.Clock
}

// ErrBadEvent: the event is not one ARC sends for this plan.
var ErrBadEvent = errors.New("not an ARC Region switch custom action event for this plan")

// Handle runs the step the event names.
func (h *Handler) Handle(ctx context.Context, ev Event) (Result, error) {
	if ev.PlanArn == "" || ev.ExecutionId == "" || ev.StepName == "" {
		return Result{}, fmt.Errorf("%w: PlanArn, ExecutionId and StepName are required (got %+v)", ErrBadEvent, ev)
	}
	exec, err := h.Executions.Get(ctx, ev.PlanArn, ev.ExecutionId)
	if err != nil {
		return Result{}, fmt.Errorf("reading execution %s: %w", ev.ExecutionId, err)
	}
	cfg := h.Controller.Cfg
	kind := arcplan.Kind(exec.Action, exec.Mode)
	spec, ok := arcplan.Find(cfg, exec.Action, ev.StepName)
	if !ok || spec.Block != arcplan.BlockLambda {
		return Result{}, fmt.Errorf("%w: the %s workflow has no custom action %q", ErrBadEvent, exec.Action, ev.StepName)
	}
	p, target, err := h.drctlPlan(kind, exec)
	if err != nil {
		return Result{}, err
	}
	res := Result{Step: ev.StepName, Kind: kind, Target: target}
	name, ok := spec.Runs[kind]
	if !ok {
		res.Note = "not a step of drctl's " + kind + ": nothing to do"
		return res, nil
	}
	res.DrctlStep, res.RunID = name, arcexec.RunID(kind, exec.Started, exec.ID)
	run, err := h.journal(ctx, res.RunID, kind, target, exec)
	if err != nil {
		return res, err
	}
	defer run.Close()
	if spec.Name == arcplan.MarkMoveStep {
		return h.markMove(run, p.MoveStep, res)
	}
	res.Ran = true
	if err := plan.ExecuteStep(ctx, p, name, run, h.Clock, h.log()); err != nil {
		return res, err
	}
	if name == "wait-topology" {
		return res, h.recordAuroraMove(run, p.MoveStep)
	}
	return res, nil
}

// recordAuroraMove records drctl's move step as done once wait-topology
// saw the writer arrive: ARC's Aurora block sent the move, between
// mark-move and wait-topology.
func (h *Handler) recordAuroraMove(run *runlog.Run, move string) error {
	rec := run.Step(move)
	if rec.Done() {
		return nil
	}
	rec.Ended, rec.Note = h.clock().Now(), "sent by ARC's Aurora global database block"
	if rec.Started.IsZero() || rec.Started.After(rec.Ended) {
		rec.Started = rec.Ended
	}
	rec.Attempts = max(rec.Attempts, 1)
	return run.Save()
}

// drctlPlan is the drctl plan the execution stands for, and its target.
func (h *Handler) drctlPlan(kind string, exec arcexec.Execution) (plan.Plan, string, error) {
	c := h.Controller
	if err := c.CheckRegion(exec.Region); err != nil {
		return plan.Plan{}, "", fmt.Errorf("%w: execution Region %q: %v", ErrBadEvent, exec.Region, err)
	}
	switch kind {
	case arcplan.KindSwitchover:
		return c.Switchover(exec.Region), exec.Region, nil
	case arcplan.KindFailover:
		return c.Failover(exec.Region, true), exec.Region, nil
	default:
		// A post-recovery execution names the active Region; the one to
		// rejoin is the other.
		old := c.Cfg.Other(exec.Region)
		return c.Rejoin(old), old, nil
	}
}

// journal opens the execution's drctl journal: the newest of this
// sandbox's copy and the mirror's (earlier steps may have run in other
// sandboxes, or in this one before them), or new.
func (h *Handler) journal(ctx context.Context, id, kind, target string, exec arcexec.Execution) (*runlog.Run, error) {
	var m runlog.Mirror
	if h.Mirror != nil {
		m = h.Mirror(target)
	}
	run, err := runlog.OpenNewest(ctx, h.Dir, id, m)
	if errors.Is(err, runlog.ErrNotFound) {
		run, err = runlog.Create(h.Dir, runlog.Run{ID: id, Kind: kind, Target: target, Env: h.Controller.Cfg.Environment, Created: exec.Started})
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", id, err)
	}
	if m != nil {
		run.SetMirror(m, func(err error) { fmt.Fprintf(h.log(), "  warning: journal mirror: %v\n", err) })
	}
	return run, nil
}

// markMove records the move's start once (a retried invocation keeps the
// first: the move may have been sent since), and opens drctl's move step
// in the journal: ARC's Aurora block sends the move next, and
// wait-topology closes the step once the writer arrived.
func (h *Handler) markMove(run *runlog.Run, move string, res Result) (Result, error) {
	if _, ok := run.MoveAt(); ok {
		res.Note = "move start already recorded at " + run.Values[runlog.MoveAtKey]
		return res, nil
	}
	now := h.clock().Now()
	run.Values[runlog.MoveAtKey] = now.UTC().Format(time.RFC3339Nano)
	rec := run.Step(move)
	rec.Started, rec.Attempts, rec.Note = now, 1, "sent by ARC's Aurora global database block"
	res.Ran = true
	return res, run.Save()
}

func (h *Handler) clock() plan.Clock {
	if h.Clock == nil {
		return plan.WallClock
	}
	return h.Clock
}

func (h *Handler) log() io.Writer {
	if h.Controller.Log != nil {
		return h.Controller.Log
	}
	return os.Stderr
}

// Summary is one line for the function's log.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s -> %s)", r.Step, r.Kind, r.Target)
	if r.DrctlStep != "" && r.DrctlStep != r.Step {
		fmt.Fprintf(&b, " as drctl's %s", r.DrctlStep)
	}
	if r.Note != "" {
		b.WriteString(": " + r.Note)
	}
	return b.String()
}
