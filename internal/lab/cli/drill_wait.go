package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// The drill waits on conditions the lab answers (through its API, the
// load's acknowledgements, drctl's canary file), never on a fixed sleep.

// waitFor checks cond every poll until it holds, the context ends or the
// driver's timeout passes; the last reason cond gave is in the error.
func (d *driver) waitFor(ctx context.Context, what string, cond func() (bool, string, error)) error {
	return d.waitForWithin(ctx, d.timeout, what, cond)
}

// waitForWithin is waitFor with its own timeout.
func (d *driver) waitForWithin(ctx context.Context, timeout time.Duration, what string, cond func() (bool, string, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, why, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s: %s", timeout, what, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.poll):
		}
	}
}

// waitSettled waits until the lab is ready for the next move: no move in
// progress, no Region down or partitioned, no database frozen, no journal
// link cut, the writer's service healthy behind the
// failover record, the replica connected and caught up.
func (d *driver) waitSettled(ctx context.Context) error {
	return d.waitFor(ctx, "the lab to settle", func() (bool, string, error) {
		st, err := d.lab.Status(ctx)
		if err != nil {
			return false, "", err
		}
		return settled(st)
	})
}

// maxSettledLag is the replica lag the lab is considered caught up at.
const maxSettledLag = 2 * time.Second

func settled(st labapi.Status) (bool, string, error) {
	c := st.Cluster
	switch {
	case c.Move.InProgress():
		return false, "a " + c.Move.Kind + " to " + c.Move.To + " is in progress", nil
	case c.Status != labapi.Available:
		return false, "the cluster is " + c.Status, nil
	case len(st.Down) > 0:
		return false, fmt.Sprintf("Regions down: %v", st.Down), nil
	case len(st.Partitioned) > 0:
		return false, fmt.Sprintf("Regions partitioned: %v", st.Partitioned), nil
	case len(st.Frozen) > 0:
		return false, fmt.Sprintf("databases frozen: %v", st.Frozen), nil
	case len(st.JournalCuts) > 0:
		return false, fmt.Sprintf("journal links cut: %v", st.JournalCuts), nil
	case st.Services[c.Writer].Health != 200 || !st.Checks[c.Writer].Healthy:
		return false, "the writer's service in " + c.Writer + " is not healthy", nil
	}
	for _, m := range c.Members {
		switch {
		case m.Writer:
		case !m.Reachable || m.Sync != labapi.SyncConnected:
			return false, fmt.Sprintf("the replica %s is %s, sync %q", m.Region, m.Status, m.Sync), nil
		case m.LagMs < 0 || time.Duration(m.LagMs)*time.Millisecond > maxSettledLag:
			return false, fmt.Sprintf("the replica %s lags %dms", m.Region, m.LagMs), nil
		}
	}
	return true, "", nil
}

// waitReplicaLag waits until the replica is at least lag behind (the
// lag itself on top of the driver's timeout).
func (d *driver) waitReplicaLag(ctx context.Context, lag time.Duration) error {
	return d.waitForWithin(ctx, d.timeout+lag, fmt.Sprintf("the replica to fall %s behind", lag), func() (bool, string, error) {
		st, err := d.lab.Status(ctx)
		if err != nil {
			return false, "", err
		}
		for _, m := range st.Cluster.Members {
			if !m.Writer && time.Duration(m.LagMs)*time.Millisecond >= lag {
				return true, "", nil
			}
		}
		return false, "the replica is not behind yet", nil
	})
}

// waitAcked waits until the load has n acknowledgements in all.
func (d *driver) waitAcked(ctx context.Context, ld loadRun, n int64) error {
	return d.waitFor(ctx, fmt.Sprintf("%d acknowledged payments", n), func() (bool, string, error) {
		got := ld.Acked()
		return got >= n, fmt.Sprintf("%d acknowledged", got), nil
	})
}

// waitCanaries waits until the drill under reports has n acknowledged
// canary writes (its warm-up).
func (d *driver) waitCanaries(ctx context.Context, reports string, n int) error {
	return d.waitFor(ctx, fmt.Sprintf("%d acknowledged canaries in %s", n, reports), func() (bool, string, error) {
		got, err := okCanaries(reports)
		return got >= n, fmt.Sprintf("%d acknowledged", got), err
	})
}

// okCanaries counts the acknowledged canary writes of the runs under
// reports, read with the journal's own parser.
func okCanaries(reports string) (int, error) {
	files, err := filepath.Glob(filepath.Join(reports, "*", runlog.SamplesFile))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		samples, err := runlog.ParseSamples(b)
		if err != nil {
			return 0, err
		}
		for _, s := range samples {
			if s.OK {
				n++
			}
		}
	}
	return n, nil
}
