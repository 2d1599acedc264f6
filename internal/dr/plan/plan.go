// Package plan runs a DR plan: named, idempotent steps executed in order
// against a journal, each with a timeout. A run interrupted anywhere
// resumes at the first step not done; a step found dirty (started, not
// ended) is first checked against the world and only re-run if that check
// says it is not in effect. Execute is the journal's one writer during a
// run: steps get a small Recorder, never the run.
package plan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// Recorder is what a step may write into the journal. Each call is saved
// at once, so a value recorded just before an API call survives a crash
// right after it.
type Recorder interface {
	Set(key, value string) error
	// Get returns a value recorded by an earlier step ("" if none).
	Get(key string) string
	// MarkMove records now as the moment the writer starts to move; the
	// step that sends the move request calls it just before sending.
	MarkMove() error
}

// Step is one named, idempotent action.
type Step struct {
	Name        string
	Description string
	// Calls lists the API calls the step makes, for --dry-run.
	Calls   []string
	Timeout time.Duration
	// Done reports whether the step's effect is already in place (used to
	// skip work on resume). Nil means "not known": the step runs.
	Done func(ctx context.Context) (bool, error)
	Run  func(ctx context.Context, rec Recorder) error
}

// Plan is an ordered list of steps.
type Plan struct {
	Kind   string
	Target string
	Steps  []Step
	// MoveStep names the step that sends the move request ("" if none).
	MoveStep string
	// Summary says what the run does, for the operator's confirmation
	// ("" for a move: the writer moves to Target).
	Summary string
}

// Clock is injected so tests never depend on wall time.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// WallClock is the real clock.
var WallClock Clock = wallClock{}

// Print writes the plan as a dry run shows it.
func (p Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "plan %s -> %s (%d steps)\n", p.Kind, p.Target, len(p.Steps))
	for i, s := range p.Steps {
		fmt.Fprintf(w, "%2d. %-22s timeout %-6s %s\n", i+1, s.Name, s.Timeout, s.Description)
		for _, c := range s.Calls {
			fmt.Fprintf(w, "      %s\n", c)
		}
	}
}

// StepError says which step failed and why.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// ReopenError, returned by a step, says that an earlier step's effect did
// not last (a move RDS cancelled): that step is marked not done, so the
// next run sends it again.
type ReopenError struct {
	Step string
	Err  error
}

func (e *ReopenError) Error() string { return fmt.Sprintf("%v (step %s reopened)", e.Err, e.Step) }
func (e *ReopenError) Unwrap() error { return e.Err }

// permanent marks an error waiting cannot heal.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent wraps err so that Wait stops at once instead of polling on.
func Permanent(err error) error { return permanent{err} }

// fatalCodes are AWS error codes that waiting cannot heal: a missing
// permission, expired credentials, a resource that does not exist, a
// request that is wrong.
var fatalCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
	"ExpiredToken": true, "ExpiredTokenException": true, "InvalidClientTokenId": true, "UnrecognizedClientException": true,
	"GlobalClusterNotFoundFault": true, "DBClusterNotFoundFault": true, "ResourceNotFoundException": true,
	"ValidationError": true, "ValidationException": true, "InvalidParameterValue": true, "InvalidParameterCombination": true,
}

// unhealable reports an error marked Permanent or an AWS client error
// whose code is in fatalCodes; throttling, 5xx and timeouts heal.
func unhealable(err error) bool {
	var p permanent
	if errors.As(err, &p) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorFault() != smithy.FaultServer && fatalCodes[api.ErrorCode()]
}

// Execute runs the plan's steps not yet done in the journal. It stops at
// the first failing step, recording the error; running Execute again with
// the same journal resumes there. When every step is done the run is
// marked completed.
func Execute(ctx context.Context, p Plan, run *runlog.Run, clock Clock, log io.Writer) error {
	if clock == nil {
		clock = WallClock
	}
	for _, s := range p.Steps {
		rec := run.Step(s.Name)
		if rec.Done() {
			fmt.Fprintf(log, "= %s: done at %s, skipped\n", s.Name, rec.Ended.Format(time.RFC3339))
			continue
		}
		if err := runStep(ctx, s, rec, run, clock, log); err != nil {
			return err
		}
	}
	run.Completed = true
	return run.Save()
}

// ExecuteStep runs the one named step of p against the journal, for an
// engine that orders the steps itself (ARC Region switch invokes one step
// per call): a step the journal has done is skipped, any other runs as
// Execute runs it (a dirty one checked first). The run is marked completed
// once every step of p is done.
func ExecuteStep(ctx context.Context, p Plan, name string, run *runlog.Run, clock Clock, log io.Writer) error {
	if clock == nil {
		clock = WallClock
	}
	i := slices.IndexFunc(p.Steps, func(s Step) bool { return s.Name == name })
	if i < 0 {
		return fmt.Errorf("plan %s has no step %q", p.Kind, name)
	}
	rec := run.Step(name)
	if rec.Done() {
		fmt.Fprintf(log, "= %s: done at %s, skipped\n", name, rec.Ended.Format(time.RFC3339))
		return nil
	}
	if err := runStep(ctx, p.Steps[i], rec, run, clock, log); err != nil {
		return err
	}
	for _, s := range p.Steps {
		if !slices.ContainsFunc(run.Steps, func(r runlog.Step) bool { return r.Name == s.Name && r.Done() }) {
			return nil
		}
	}
	run.Completed = true
	return run.Save()
}

func runStep(ctx context.Context, s Step, rec *runlog.Step, run *runlog.Run, clock Clock, log io.Writer) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wasDirty := rec.Dirty() || rec.Error != ""
	if wasDirty && s.Done != nil {
		// Interrupted or failed before: the effect may be in place
		// already. If that cannot be checked, stop: sending a move twice
		// is worse than asking the operator to resume.
		done, err := s.Done(sctx)
		if err != nil {
			err = fmt.Errorf("could not check whether %s is already in effect, so it was not run again: %w", s.Name, err)
			fmt.Fprintf(log, "! %s: %v\n", s.Name, err)
			return &StepError{Step: s.Name, Err: err}
		}
		if done {
			rec.Ended, rec.Error, rec.Note = clock.Now(), "", "found done on resume"
			fmt.Fprintf(log, "= %s: already in effect, marked done\n", s.Name)
			return run.Save()
		}
	}
	if rec.Started.IsZero() || !wasDirty {
		rec.Started = clock.Now()
	}
	rec.Attempts++
	rec.Error, rec.Ended = "", time.Time{}
	if err := run.Save(); err != nil {
		return err
	}
	fmt.Fprintf(log, "> %s: %s\n", s.Name, s.Description)
	err := s.Run(sctx, recorder{run: run, clock: clock})
	if err == nil && sctx.Err() != nil {
		err = sctx.Err()
	}
	if err != nil {
		return failStep(ctx, sctx, s, rec, run, clock, log, timeout, err)
	}
	rec.Ended = clock.Now()
	fmt.Fprintf(log, "< %s: done in %s\n", s.Name, rec.Ended.Sub(rec.Started).Round(time.Millisecond))
	return run.Save()
}

// failStep records a failed step; the deadline that fired is named: the
// step's own timeout, or the whole run's.
func failStep(ctx, sctx context.Context, s Step, rec *runlog.Step, run *runlog.Run, clock Clock, log io.Writer, timeout time.Duration, err error) error {
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		err = fmt.Errorf("the run's deadline fired during this step: %w", err)
	case ctx.Err() != nil:
		err = fmt.Errorf("the run was interrupted during this step: %w", err)
	case sctx.Err() == context.DeadlineExceeded:
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	rec.Error = err.Error()
	rec.Ended = clock.Now()
	var reopen *ReopenError
	if errors.As(err, &reopen) {
		r := run.Step(reopen.Step)
		r.Ended, r.Error = time.Time{}, "reopened: "+reopen.Err.Error()
	}
	saveErr := run.Save()
	fmt.Fprintf(log, "! %s: %v\n", s.Name, err)
	return errors.Join(&StepError{Step: s.Name, Err: err}, saveErr)
}

type recorder struct {
	run   *runlog.Run
	clock Clock
}

func (r recorder) Set(key, value string) error {
	r.run.Values[key] = value
	return r.run.Save()
}

func (r recorder) Get(key string) string { return r.run.Values[key] }

func (r recorder) MarkMove() error {
	return r.Set(runlog.MoveAtKey, r.clock.Now().UTC().Format(time.RFC3339Nano))
}

// Backoff bounds Wait's polling: the first retry after Min, doubling up
// to Max, like the SDK's waiters.
type Backoff struct{ Min, Max time.Duration }

func (b Backoff) next(d time.Duration) time.Duration {
	if d <= 0 {
		return max(b.Min, time.Millisecond)
	}
	return min(2*d, max(b.Max, b.Min))
}

// Wait polls cond, backing off between Min and Max, until it reports
// true, the context ends, or cond fails with an error marked Permanent
// or an AWS error that cannot heal (which is returned at once). Other
// errors are retried; the last one is reported if the context ends first.
func Wait(ctx context.Context, b Backoff, what string, cond func(context.Context) (bool, error)) error {
	var last error
	var delay time.Duration
	for {
		ok, err := cond(ctx)
		switch {
		case unhealable(err):
			return fmt.Errorf("waiting for %s: %w", what, unwrapPermanent(err))
		case err == nil && ok:
			return nil
		case err != nil:
			last = err
		}
		delay = b.next(delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

func unwrapPermanent(err error) error {
	var p permanent
	if errors.As(err, &p) {
		return p.error
	}
	return err
}

// Summary lists the journal's steps, one per line.
func Summary(run *runlog.Run) string {
	var b strings.Builder
	for _, s := range run.Steps {
		state := "pending"
		switch {
		case s.Done():
			state = "done"
		case s.Error != "":
			state = "failed: " + s.Error
		case s.Dirty():
			state = "interrupted"
		}
		fmt.Fprintf(&b, "%-22s %s\n", s.Name, state)
	}
	return b.String()
}
