package daemon

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/lab/mrsc"
)

// journalOpTimeout is how long a journal write or strongly consistent
// read waits for a majority before the endpoint answers 500: well under
// the payment service's own budget, so a Region without a majority
// answers "journal unavailable" rather than hanging its clients.
const journalOpTimeout = time.Second

// startJournal starts the payment journal's MRSC stand-in (an etcd member
// per Region and the witness, their peer links with the inter-Region and
// witness latencies) and serves each Region's DynamoDB endpoint.
func (d *Daemon) startJournal(ctx context.Context) error {
	logf, err := os.OpenFile(d.dir.Path("logs", "mrsc-links.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	d.journal, err = mrsc.Start(ctx, mrsc.Options{Dir: d.dir.Path("mrsc"), Regions: d.regions(), Witness: d.journalWitness(),
		RegionLatency: d.opt.LinkLatency, WitnessLatency: d.opt.WitnessLatency, WitnessLatencyOf: d.witnessLatencyOf(), OpTimeout: journalOpTimeout, Log: logf})
	if err != nil {
		return err
	}
	table := mrsc.Table{Name: d.naming().JournalTable(), HashKey: "pk", RangeKey: "sk"}
	for _, r := range d.regions() {
		h, err := d.journal.Endpoint(r, table)
		if err != nil {
			return err
		}
		d.serveHTTP(d.ports.journal[r], h)
	}
	// The lab's journal is new: its first sweep starts now instead of
	// walking a day of empty minutes while the first drill runs (on AWS
	// that walk happens once, after the deploy).
	primary := d.cfg.PrimaryRegion
	j := &claims.Journal{Client: backends.DynamoDB(d.journalEndpoint(primary), primary), Table: table.Name}
	return j.StartSweepAt(ctx, time.Now())
}

// journalWitness names the journal's witness member after the
// configuration's witness Region (a third Region with no replica and no
// service; in the lab it lives in the daemon).
func (d *Daemon) journalWitness() string {
	if w := d.cfg.JournalWitness(); w != "" {
		return w
	}
	return "witness"
}

// journalEndpoint is region's journal endpoint, as its service is given it.
func (d *Daemon) journalEndpoint(region string) string {
	return "http://" + d.ports.journal[region].Addr().String()
}

// How often the leader's place is checked, and how long after a failed
// transfer the next is tried.
const (
	leaderCheck   = 500 * time.Millisecond
	leaderBackoff = 30 * time.Second
)

// keepJournalLeader keeps the etcd leader in the writer's Region while
// that Region reaches a majority: a claim then costs the writer one round
// trip to the nearest other member (the witness), as an MRSC write does;
// with the leader elsewhere it would pay two inter-Region round trips.
// While the two Regions' own journal link is cut (journal-cut) the leader
// stays on the witness instead: raft relays nothing through a follower, so
// only a leader both Regions reach leaves each a majority, as MRSC does.
//
// A transfer holds off writes until it completes, so it is made as soon
// as the writer moved: clients reach the new writer only once the health
// checks and DNS followed it, seconds later, and the old writer refuses
// payments without claiming them, so the journal is quiet then. After a
// failed transfer the next waits leaderBackoff.
func (d *Daemon) keepJournalLeader(ctx context.Context) {
	t := time.NewTicker(leaderCheck)
	defer t.Stop()
	var notBefore time.Time
	for {
		top := d.topology()
		want := d.leaderPlace(top)
		lead := d.journal.Leader(want)
		movable := !cutOff(top, d.journalWitness(), want) && lead != "" && lead != want
		if movable && time.Now().After(notBefore) {
			if err := d.journal.MoveLeader(ctx, want); err != nil && ctx.Err() == nil {
				log.Printf("journal: moving the leader to %s: %v (next try in %s)", want, err, leaderBackoff)
				notBefore = time.Now().Add(leaderBackoff)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaderPlace is the member the journal's leader belongs on: the writer's,
// or the witness while the two Regions' journal link is cut.
func (d *Daemon) leaderPlace(top Topology) string {
	r := d.regions()
	if top.JournalCuts[journalPair(r[0], r[1])] && !top.WitnessDown {
		return d.journalWitness()
	}
	return top.Writer
}

// witnessLatencyOf is the Regions' own latencies to the witness, where
// they differ from WitnessLatency.
func (d *Daemon) witnessLatencyOf() map[string]time.Duration {
	if d.opt.SecondaryWitnessLatency == nil {
		return nil
	}
	return map[string]time.Duration{d.cfg.SecondaryRegion: *d.opt.SecondaryWitnessLatency}
}
