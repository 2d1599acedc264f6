package daemon

import (
	"context"

	"github.com/payment-dr/payment-dr/internal/lab/repl"
)

// stall stops (or restarts) replication into the Region that is not the
// writer, so lag grows (or catches up).
func (d *Daemon) stall(ctx context.Context, stall bool) error {
	top := d.topology()
	replica := d.cfg.Other(top.Writer)
	if top.Down[replica] {
		return conflict("the replica %s is down", replica)
	}
	if top.Frozen[replica] {
		return conflict("the replica %s's database is frozen (db-thaw %s first)", replica, replica)
	}
	if top.Diverged[replica] {
		return conflict("%s diverged after an unplanned failover and does not replicate until it is rebuilt", replica)
	}
	var err error
	if stall {
		err = repl.Stall(ctx, d.node(replica))
	} else {
		err = repl.Resume(ctx, d.node(replica))
	}
	if err != nil {
		return err
	}
	return d.setTopology(func(t *Topology) {
		if stall {
			t.Stalled[replica] = true
		} else {
			delete(t.Stalled, replica)
		}
	})
}
