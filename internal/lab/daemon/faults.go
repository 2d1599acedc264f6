package daemon

import (
	"context"
	"slices"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// faultAction applies one kind of fault; latency is the fault's duration
// (link-latency's latency, clock-offset's offset). A new fault is a labapi.Faults entry, a file with its action and
// its line here.
type faultAction func(d *Daemon, ctx context.Context, args []string, latency time.Duration) error

var faultActions = map[string]faultAction{
	labapi.RegionDown: func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.regionDown(a[0]) },
	labapi.RegionUp: func(d *Daemon, ctx context.Context, a []string, _ time.Duration) error {
		return d.regionUp(ctx, a[len(a)-1], slices.Contains(a, labapi.Writable))
	},
	labapi.LinkCut:           func(d *Daemon, _ context.Context, _ []string, _ time.Duration) error { d.link.Cut(); return nil },
	labapi.LinkRestore:       func(d *Daemon, _ context.Context, _ []string, _ time.Duration) error { return d.link.Restore() },
	labapi.LinkLatency:       func(d *Daemon, _ context.Context, _ []string, l time.Duration) error { return d.setLatency(l) },
	labapi.ReplicationStall:  func(d *Daemon, ctx context.Context, _ []string, _ time.Duration) error { return d.stall(ctx, true) },
	labapi.ReplicationResume: func(d *Daemon, ctx context.Context, _ []string, _ time.Duration) error { return d.stall(ctx, false) },
	labapi.Partition:         func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.partition(a[0]) },
	labapi.PartitionHeal:     func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.heal(a[0]) },
	labapi.WitnessDown:       func(d *Daemon, _ context.Context, _ []string, _ time.Duration) error { return d.witness(false) },
	labapi.WitnessUp:         func(d *Daemon, _ context.Context, _ []string, _ time.Duration) error { return d.witness(true) },
	labapi.FailoverFence: func(d *Daemon, _ context.Context, a []string, _ time.Duration) error {
		return d.setTopology(func(t *Topology) { t.TopologyOnlyFence = a[0] == labapi.FenceTopologyOnly })
	},
	labapi.ARCTriggers: func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.setTriggers(a[0]) },
	labapi.ClockOffset: func(d *Daemon, ctx context.Context, a []string, off time.Duration) error {
		return d.clockOffset(ctx, a[0], off)
	},
	labapi.JournalCut: func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.journalCut(a[0], a[1]) },
	labapi.JournalRestore: func(d *Daemon, _ context.Context, a []string, _ time.Duration) error {
		return d.journalRestore(a[0], a[1])
	},
	labapi.DBFreeze: func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.freeze(a[0]) },
	labapi.DBThaw:   func(d *Daemon, _ context.Context, a []string, _ time.Duration) error { return d.thaw(a[0]) },
}

// fault applies a validated fault, one move or fault at a time.
func (d *Daemon) fault(ctx context.Context, r labapi.FaultRequest) error {
	lat, err := r.ParseIn(labapi.Targets{Regions: d.regions(), Witness: d.journalWitness()})
	if err != nil {
		return badRequest("%v", err)
	}
	act, ok := faultActions[r.Kind]
	if !ok {
		return badRequest("fault %q has no action in this daemon", r.Kind)
	}
	d.moveMu.Lock()
	defer d.moveMu.Unlock()
	return act(d, ctx, r.Args, lat)
}
