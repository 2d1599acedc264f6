// Package arcexec is ARC Region switch's execution API as drctl, the
// drctl-action function and the DR lab use it: start an execution of the
// plan, read it, list them, approve a manual approval step, cancel. The
// AWS implementation (package awsops) calls the arc-region-switch data
// plane through the SDK; the lab's engine implements it and serves it
// over the same wire protocol. Values are ARC's (ARC API Reference:
// ExecutionState, StepStatus, ExecutionMode, ExecutionAction).
package arcexec

import (
	"context"
	"errors"
	"time"
)

// Execution states (ARC API Reference, GetPlanExecution.executionState).
const (
	StateInProgress          = "inProgress"
	StatePendingApproval     = "pendingManualApproval"
	StatePausedByFailedStep  = "pausedByFailedStep"
	StateCompleted           = "completed"
	StateCompletedExceptions = "completedWithExceptions"
	StateCancelled           = "canceled"
	StateFailed              = "failed"
	StateTimedOut            = "planExecutionTimedOut"
)

// Step statuses (ARC API Reference, StepState.status).
const (
	StepNotStarted      = "notStarted"
	StepRunning         = "running"
	StepFailed          = "failed"
	StepCompleted       = "completed"
	StepCancelled       = "canceled"
	StepSkipped         = "skipped"
	StepPendingApproval = "pendingApproval"
)

// Execution is one run of the plan.
type Execution struct {
	PlanArn string
	ID      string
	// Action is activate or postRecovery; Mode graceful or ungraceful.
	Action, Mode string
	// Region is the execution's Region: the one activated (activate), or
	// the active one whose standby is rejoined (postRecovery).
	Region  string
	State   string
	Comment string
	Started time.Time
	Ended   time.Time // zero while it runs
	Steps   []StepState
}

// Finished reports an execution that will change nothing more.
func (e Execution) Finished() bool {
	switch e.State {
	case StateCompleted, StateCompletedExceptions, StateCancelled, StateFailed, StateTimedOut:
		return true
	}
	return false
}

// StepState is one step's progress.
type StepState struct {
	Name    string
	Status  string
	Started time.Time
	Ended   time.Time
}

// PendingApproval returns the step waiting for approval, if any.
func (e Execution) PendingApproval() (string, bool) {
	for _, s := range e.Steps {
		if s.Status == StepPendingApproval {
			return s.Name, true
		}
	}
	return "", false
}

// StartRequest starts an execution (ARC API Reference, StartPlanExecution).
type StartRequest struct {
	PlanArn      string
	TargetRegion string
	Action       string
	Mode         string
	Comment      string
}

// Service is the execution API.
type Service interface {
	// PlanARN finds the plan named name (ARC appends a suffix to its ARN).
	PlanARN(ctx context.Context, name string) (string, error)
	Start(ctx context.Context, r StartRequest) (Execution, error)
	Get(ctx context.Context, planArn, id string) (Execution, error)
	// List returns the plan's executions, newest first.
	List(ctx context.Context, planArn string) ([]Execution, error)
	// Approve answers the manual approval step (approve false declines).
	Approve(ctx context.Context, planArn, id, step string, approve bool, comment string) error
	Cancel(ctx context.Context, planArn, id string) error
}

// ErrNotFound: no such plan or execution (ResourceNotFoundException).
var ErrNotFound = errors.New("not found")

// ErrConflict: the request does not fit the plan's or execution's state
// (IllegalStateException, IllegalArgumentException).
var ErrConflict = errors.New("not allowed in the current state")

// RunID names the drctl journal of an execution's custom actions (the
// drctl-action function keeps it, mirrored like drctl's own runs): kind,
// the execution's start, and its ID made a run ID's characters.
func RunID(kind string, started time.Time, executionID string) string {
	var b []byte
	for _, c := range []byte(executionID) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, '-')
		}
	}
	if len(b) > 60 {
		b = b[len(b)-60:]
	}
	return kind + "-" + started.UTC().Format("20060102T150405Z") + "-arc-" + string(b)
}
