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
	Name string
	// Note is what the case's header line adds to its name.
	Note   string
	Target string
	// Unplanned runs drctl drill --unplanned (promotion without waiting
	// for the writer).
	Unplanned bool
	// Automatic runs no drctl move: the lab's Region switch executes the
	// synthesized plan on its trigger; Approve has the drill run drctl
	// approve when the execution asks.
	Automatic, Approve bool
	// Warmup is how much load (at the drill's rate) is acknowledged before
	// the move starts.
	Warmup  time.Duration
	Inject  func(ctx context.Context, d *driver) error
	During  func(ctx context.Context, d *driver) error
	Recover func(ctx context.Context, d *driver) error
	// Inside is a Region with a client of its own (drlab load --region)
	// beside the load through the failover URL.
	Inside string
	// Reconcile is the old writer's Region when the move may lose data:
	// drctl reconcile lists what only it held, verify accepts exactly
	// those losses, then reconcile --apply must leave none missing.
	Reconcile string
}

func (c Case) note() string {
	if c.Note == "" {
		return ""
	}
	return " (" + c.Note + ")"
}

// standardCases are make drill's scenarios for a lab whose writer starts
// in primary. Each case starts where the one before it left the writer;
// the last leaves it in primary.
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
		slowLinkCase(primary, secondary),
		journalCutCase(secondary, primary),
		longStallCase(primary, secondary),
		frozenCase(secondary, primary),
		skewedClockCase(primary, secondary),
		plannedCase("failback after the skewed clock "+secondary+" -> "+primary, primary),
		automaticCase(primary, secondary, false),
		plannedCase("failback after the automatic failover "+secondary+" -> "+primary, primary),
		automaticCase(primary, secondary, true),
		plannedCase("failback after the approved failover "+secondary+" -> "+primary, primary),
	}
}

func plannedCase(name, target string) Case {
	return Case{Name: name, Target: target, Warmup: 3 * time.Second}
}

// stalledLag is how far the replica falls behind before the writer's
// Region is lost: the payments in that window are the ones only the old
// primary holds.
const stalledLag = 3 * time.Second

// longStall is a stall longer than any fixed replay budget (2 minutes
// plus margin): the window must come from the new writer's database.
const longStall = 150 * time.Second

// stallFor stalls replication until the replica lags lag.
func stallFor(lag time.Duration) func(ctx context.Context, d *driver) error {
	return func(ctx context.Context, d *driver) error {
		if err := d.fault(ctx, labapi.ReplicationStall); err != nil {
			return err
		}
		return d.waitReplicaLag(ctx, lag)
	}
}

func unplannedCase(oldWriter, target string) Case {
	return Case{
		Name: "unplanned failover " + oldWriter + " -> " + target, Note: "replication stalled, then region-down " + oldWriter,
		Target: target, Unplanned: true, Warmup: 2 * time.Second, Reconcile: oldWriter,
		Inject:  stallFor(stalledLag),
		During:  func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.RegionDown, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.RegionUp, oldWriter) },
	}
}

// partitionCase cuts the writer's Region off (from the other Region and
// the journal's witness) while a client inside it keeps paying there, and
// fails over to target with the lab's Aurora leaving the old database
// writable (failover-fence topology-only: only the journal's writer
// record stops the old Region); then the partition heals and drctl rejoin
// makes the old writer a ready standby. The isolated Region must
// acknowledge nothing the new writer lacks.
func partitionCase(oldWriter, target string) Case {
	return Case{
		Name:   "partition " + oldWriter + ", failover -> " + target,
		Note:   "replication stalled, a client inside " + oldWriter + ", then partition " + oldWriter + "; the old database left writable; heal, drctl rejoin",
		Target: target, Unplanned: true, Warmup: 2 * time.Second, Reconcile: oldWriter, Inside: oldWriter,
		Inject: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.FailoverFence, labapi.FenceTopologyOnly); err != nil {
				return err
			}
			return stallFor(stalledLag)(ctx, d)
		},
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.Partition, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.PartitionHeal, oldWriter); err != nil {
				return err
			}
			if err := d.fault(ctx, labapi.FailoverFence, labapi.FenceBestEffort); err != nil {
				return err
			}
			return d.rejoin(ctx, oldWriter)
		},
	}
}

// slowLinkLatency is the slow link's one-way latency: longer than etcd's
// election timeout, so the journal's leader cannot move straight across.
const slowLinkLatency = "1500ms"

// slowLinkCase is a planned switchover over a 1.5 s link between the two
// Regions (replication and the journal's Region-to-Region link): the new
// writer's claims need only the witness, as on AWS.
func slowLinkCase(from, to string) Case {
	var before string
	return Case{
		Name: "switchover over a slow link " + from + " -> " + to, Note: "link-latency " + slowLinkLatency,
		Target: to, Warmup: 3 * time.Second,
		Inject: func(ctx context.Context, d *driver) error {
			st, err := d.lab.Status(ctx)
			if err != nil {
				return err
			}
			before = (time.Duration(st.Link.LatencyMs) * time.Millisecond).String()
			return d.fault(ctx, labapi.LinkLatency, slowLinkLatency)
		},
		Recover: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.LinkLatency, before) },
	}
}

// journalCutCase is a planned switchover while the journal's link between
// the two Regions is cut (each keeps a majority through the witness),
// with a client inside the target beside the one through the failover
// name: before the move it is refused (not the writer), after it claims.
func journalCutCase(from, to string) Case {
	return Case{
		Name: "journal-cut, switchover " + from + " -> " + to, Note: "the journal's " + from + "-" + to + " link cut, a client inside " + to,
		Target: to, Warmup: 3 * time.Second, Inside: to,
		Inject:  func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.JournalCut, from, to) },
		Recover: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.JournalRestore, from, to) },
	}
}

// longStallCase: replication stalled for 150 s, the writer's Region lost,
// an unplanned failover; the old primary returns with its database
// writable (Aurora's fence of it failed) and a client pays there: it must
// acknowledge nothing.
func longStallCase(oldWriter, target string) Case {
	return Case{
		Name:   "150 s stall, failover " + oldWriter + " -> " + target,
		Note:   "replication stalled 150 s, region-down " + oldWriter + ", then region-up --writable " + oldWriter + " with a client inside it",
		Target: target, Unplanned: true, Warmup: 2 * time.Second, Reconcile: oldWriter,
		Inject: stallFor(longStall),
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.RegionDown, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.RegionUp, labapi.Writable, oldWriter); err != nil {
				return err
			}
			return d.probeReturned(ctx, oldWriter)
		},
	}
}

// frozenCase: the writer's database freezes (SIGSTOP) during an unplanned
// failover, so the lab's Aurora cannot fence it; thawed, it is writable
// and only the writer record stops its Region: a client pays there, and
// it must acknowledge nothing. region-up rebuilds it.
func frozenCase(oldWriter, target string) Case {
	return Case{
		Name:   "frozen database, failover " + oldWriter + " -> " + target,
		Note:   "replication stalled, db-freeze " + oldWriter + "; thawed unfenced, a client inside it",
		Target: target, Unplanned: true, Warmup: 2 * time.Second, Reconcile: oldWriter,
		Inject: stallFor(stalledLag),
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.DBFreeze, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.DBThaw, oldWriter); err != nil {
				return err
			}
			if err := d.probeReturned(ctx, oldWriter); err != nil {
				return err
			}
			return d.fault(ctx, labapi.RegionUp, oldWriter) // resynchronises the diverged database
		},
	}
}

// drctlSkew is how far drctl's clock is off in the skewed-clock case.
const drctlSkew = "-1h"

// skewedClockCase: an unplanned failover run by a drctl whose clock is an
// hour behind: the replay window comes from the new writer's database,
// so nothing is missed.
func skewedClockCase(oldWriter, target string) Case {
	return Case{
		Name:   "skewed drctl clock, failover " + oldWriter + " -> " + target,
		Note:   "drctl's clock " + drctlSkew + ", replication stalled, then region-down " + oldWriter,
		Target: target, Unplanned: true, Warmup: 2 * time.Second, Reconcile: oldWriter,
		Inject: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.ClockOffset, labapi.DrctlClock, drctlSkew); err != nil {
				return err
			}
			return stallFor(stalledLag)(ctx, d)
		},
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.RegionDown, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.ClockOffset, labapi.DrctlClock, "0"); err != nil {
				return err
			}
			return d.fault(ctx, labapi.RegionUp, oldWriter)
		},
	}
}
