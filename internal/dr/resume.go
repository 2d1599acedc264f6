package dr

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// MaxResumeAge bounds how old a run may be and still be resumed: past it
// the world has moved on and the journal says nothing about it.
const MaxResumeAge = 6 * time.Hour

// CheckResume refuses to resume run with plan p unless the world still
// matches it: the run is recent, it is of p's kind and target, and the
// writer is where the journal implies (moved to the target if the move
// step is done, not yet there if the move was never sent).
func (c *Controller) CheckResume(ctx context.Context, p plan.Plan, run *runlog.Run) error {
	if age := c.now().Sub(run.Created); age > MaxResumeAge {
		return fmt.Errorf("run %s is %s old (limit %s): start a new run with --new", run.ID, age.Round(time.Minute), MaxResumeAge)
	}
	if run.Kind != p.Kind || run.Target != p.Target {
		return fmt.Errorf("run %s is a %s to %s, not a %s to %s", run.ID, run.Kind, run.Target, p.Kind, p.Target)
	}
	if p.Kind == "rejoin" {
		// A rejoin moves nothing, but the Region it fences must still not
		// be the writer (a failback may have happened since).
		if err := c.checkNotWriter(ctx, p.Target); err != nil {
			return fmt.Errorf("run %s is not resumed: %w", run.ID, err)
		}
		return nil
	}
	if p.MoveStep == "" {
		return nil
	}
	g, err := c.Cloud.GlobalCluster(ctx)
	if err != nil {
		return fmt.Errorf("cannot check run %s against the global cluster, so it is not resumed: %w", run.ID, err)
	}
	move, _ := run.Find(p.MoveStep)
	moving := g.Writer() == p.Target || g.MovingTo() == p.Target
	switch {
	case move.Done() && !moving:
		return fmt.Errorf("run %s moved the writer to %s, but the writer is in %s now: the world changed since; start a new run with --new", run.ID, p.Target, orDash(g.Writer()))
	case move.Started.IsZero() && g.Writer() == p.Target:
		return fmt.Errorf("run %s never moved the writer, yet it is in %s now: something else moved it; check drctl status", run.ID, p.Target)
	}
	return nil
}
