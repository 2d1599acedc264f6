package cli

import (
	"context"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// Case is one scenario of the drill: drctl drill moves the writer to
// Target under load, and the case's faults shape what it meets. As in
// etcd's functional tester, a fault is a value: Inject before the move,
// During it (once drctl's canaries warmed up), Recover after it. A new
// scenario is a new Case, not a new branch in the driver.
type Case struct {
	Name   string
	Target string
	// Unplanned runs drctl drill --unplanned (promotion without waiting
	// for the writer).
	Unplanned bool
	// Warmup is how much load (at the drill's rate) is acknowledged before
	// the move starts.
	Warmup time.Duration
	Inject func(ctx context.Context, d *driver) error
	During func(ctx context.Context, d *driver) error
	// Recover runs after drctl and the load ended.
	Recover func(ctx context.Context, d *driver) error
	// Inside is a Region with a client of its own (drlab load --region)
	// beside the load through the failover URL.
	Inside string
	// Reconcile is the old writer's Region when the move may lose data:
	// drctl reconcile lists what only it held, verify accepts exactly
	// those losses, then reconcile --apply must leave none missing.
	Reconcile string
}

// Note is what the case's header line adds to its name.
func (c Case) note() string {
	switch {
	case c.Inside != "":
		return " (replication stalled, a client inside " + c.Inside + ", then partition " + c.Inside + ")"
	case c.Unplanned:
		return " (replication stalled, then region-down " + c.Reconcile + ")"
	}
	return ""
}

// standardCases are make drill's scenarios for a lab whose writer starts
// in primary: a planned switchover each way, an unplanned failover that
// loses the primary's Region with replication stalled, and the failback.
func standardCases(primary, secondary string) []Case {
	return []Case{
		plannedCase("planned switchover "+primary+" -> "+secondary, secondary),
		plannedCase("planned switchover "+secondary+" -> "+primary, primary),
		unplannedCase(primary, secondary),
		// The same measured switchover back once the old primary's Region
		// was resynchronised (plain drctl failback is covered by the e2e
		// tests).
		plannedCase("failback "+secondary+" -> "+primary, primary),
		partitionCase(primary, secondary),
		plannedCase("failback after the partition "+secondary+" -> "+primary, primary),
	}
}

func plannedCase(name, target string) Case {
	return Case{Name: name, Target: target, Warmup: 3 * time.Second}
}

// stalledLag is how far the replica falls behind before the writer's
// Region is lost: the payments in that window are the ones only the old
// primary holds.
const stalledLag = 3 * time.Second

func unplannedCase(oldWriter, target string) Case {
	return Case{
		Name: "unplanned failover " + oldWriter + " -> " + target, Target: target, Unplanned: true,
		Warmup: 2 * time.Second, Reconcile: oldWriter,
		Inject: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.ReplicationStall); err != nil {
				return err
			}
			return d.waitReplicaLag(ctx, stalledLag)
		},
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.RegionDown, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			return d.fault(ctx, labapi.RegionUp, oldWriter)
		},
	}
}

// partitionCase cuts the writer's Region off (from the other Region and
// the journal's witness) while a client inside it keeps paying there, and
// fails over to target; then the partition heals and the old writer is
// resynchronised. The isolated Region must acknowledge nothing the new
// writer lacks.
func partitionCase(oldWriter, target string) Case {
	return Case{
		Name: "partition " + oldWriter + ", failover -> " + target, Target: target, Unplanned: true,
		Warmup: 2 * time.Second, Reconcile: oldWriter, Inside: oldWriter,
		Inject: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.ReplicationStall); err != nil {
				return err
			}
			return d.waitReplicaLag(ctx, stalledLag)
		},
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.Partition, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.PartitionHeal, oldWriter); err != nil {
				return err
			}
			return d.fault(ctx, labapi.RegionUp, oldWriter)
		},
	}
}
