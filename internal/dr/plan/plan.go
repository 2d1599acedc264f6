// Package plan runs a DR plan: named, idempotent steps executed in order
// against a journal, each with a timeout. A run interrupted anywhere
// resumes at the first step not done; a step found dirty (started, not
// ended) is first checked against the world and only re-run if needed.
package plan

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/journal"
)

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
	Run  func(ctx context.Context) error
}

// Plan is an ordered list of steps.
type Plan struct {
	Kind   string
	Target string
	Steps  []Step
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

// Execute runs the plan's steps not yet done in the journal. It stops at
// the first failing step, recording the error; running Execute again with
// the same journal resumes there.
func Execute(ctx context.Context, p Plan, run *journal.Run, clock Clock, log io.Writer) error {
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
	return nil
}

func runStep(ctx context.Context, s Step, rec *journal.Step, run *journal.Run, clock Clock, log io.Writer) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	wasDirty := rec.Dirty() || rec.Error != ""
	if wasDirty && s.Done != nil {
		// Interrupted or failed before: the effect may be in place already.
		done, err := s.Done(sctx)
		if err == nil && done {
			rec.Ended, rec.Error, rec.Note = clock.Now(), "", "found done on resume"
			fmt.Fprintf(log, "= %s: already in effect, marked done\n", s.Name)
			return run.Save()
		}
	}
	if rec.Started.IsZero() || !wasDirty {
		rec.Started = clock.Now()
	}
	rec.Attempts++
	rec.Error = ""
	rec.Ended = time.Time{}
	if err := run.Save(); err != nil {
		return err
	}
	fmt.Fprintf(log, "> %s: %s\n", s.Name, s.Description)
	err := s.Run(sctx)
	if err == nil && sctx.Err() != nil {
		err = sctx.Err()
	}
	if err != nil {
		if sctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		rec.Error = err.Error()
		rec.Ended = clock.Now()
		_ = run.Save()
		fmt.Fprintf(log, "! %s: %v\n", s.Name, err)
		return &StepError{Step: s.Name, Err: err}
	}
	rec.Ended = clock.Now()
	fmt.Fprintf(log, "< %s: done in %s\n", s.Name, rec.Ended.Sub(rec.Started).Round(time.Millisecond))
	return run.Save()
}

// Wait polls cond every interval until it reports true, the context ends,
// or cond fails with a permanent error. It is how steps wait for AWS.
func Wait(ctx context.Context, interval time.Duration, what string, cond func(context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := cond(ctx)
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Summary lists the journal's steps, one per line.
func Summary(run *journal.Run) string {
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
