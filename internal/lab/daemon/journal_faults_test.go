package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/link"
	"github.com/payment-dr/payment-dr/internal/lab/mrsc"
)

const east, west, wit = "us-east-1", "us-west-2", "us-east-2"

// A member given back its links reaches the members no fault cuts off,
// except across a pair journal-cut cut.
func TestReopenedPeers(t *testing.T) {
	members := []string{east, west, wit}
	cases := []struct {
		name   string
		top    Topology
		member string
		want   []string
	}{
		{"no fault", Topology{}, east, []string{west, wit}},
		{"its own partition ends", Topology{Partitioned: map[string]bool{east: true}}, east, []string{west, wit}},
		{"the Regions' pair cut", Topology{JournalCuts: map[string]bool{journalPair(west, east): true}}, east, []string{wit}},
		{"the witness down", Topology{WitnessDown: true}, east, []string{west}},
		{"the witness back, a Region down", Topology{WitnessDown: true, Down: map[string]bool{west: true}}, wit, []string{east}},
		{"the witness back, its pair with a Region cut", Topology{WitnessDown: true, JournalCuts: map[string]bool{journalPair(wit, west): true}}, wit, []string{east}},
		{"the other Region partitioned", Topology{Partitioned: map[string]bool{west: true}}, east, []string{wit}},
	}
	for _, c := range cases {
		if got := reopenedPeers(c.top, members, wit, c.member); !slices.Equal(got, c.want) {
			t.Errorf("%s: reopened peers of %s %v, want %v", c.name, c.member, got, c.want)
		}
	}
	if journalPair(west, east) != journalPair(east, west) {
		t.Error("a pair's key depends on its order")
	}
}

// journal-cut's pairs stay cut through the restores of other faults
// (partition-heal, witness-up), and journal-restore leaves a pair cut
// while another fault cuts one of its members off; on a real journal.
func TestJournalCutsOutliveOtherRestores(t *testing.T) {
	d := journalDaemon(t)
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	cut := func(want bool, a, b string) {
		t.Helper()
		if got := d.journal.PairCut(a, b); got != want {
			t.Errorf("pair %s, %s cut: %v, want %v (topology %+v)", a, b, got, want, d.topology())
		}
	}
	step("journal-cut", d.journalCut(east, west))
	if err := d.journalCut(west, east); !isConflict(err) {
		t.Errorf("cutting a cut pair again: %v, want a conflict", err)
	}
	cut(true, east, west)
	cut(false, east, wit)
	step("partition", d.partition(east))
	cut(true, east, wit)
	step("partition-heal", d.heal(east))
	cut(false, east, wit)
	cut(true, east, west)
	step("witness-down", d.witness(false))
	step("witness-up", d.witness(true))
	cut(false, west, wit)
	cut(true, east, west)
	step("partition", d.partition(west))
	step("journal-restore", d.journalRestore(west, east))
	cut(true, east, west) // west is still partitioned
	step("partition-heal", d.heal(west))
	cut(false, east, west)
	if err := d.journalRestore(east, west); !isConflict(err) {
		t.Errorf("restoring a pair not cut: %v, want a conflict", err)
	}
	step("journal-cut", d.journalCut(wit, east))
	step("witness-down", d.witness(false))
	step("witness-up", d.witness(true))
	cut(true, east, wit)
	cut(false, west, wit)
	step("journal-restore", d.journalRestore(east, wit))
	cut(false, east, wit)
}

func isConflict(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusConflict
}

// journalDaemon is a daemon with a journal and an empty link only: enough
// for the journal's faults.
func journalDaemon(t *testing.T) *Daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := mrsc.Start(ctx, mrsc.Options{Dir: t.TempDir(), Regions: []string{east, west}, Witness: wit, RegionLatency: time.Millisecond, WitnessLatency: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	return &Daemon{cfg: config.Config{PrimaryRegion: east, SecondaryRegion: west, JournalWitnessRegion: wit}, dir: labdir.Dir(t.TempDir()),
		journal: j, link: link.New(io.Discard), topo: Topology{Down: map[string]bool{}, Partitioned: map[string]bool{}, JournalCuts: map[string]bool{}}}
}

// With the two Regions' journal link cut the leader keeper moves etcd's
// leader to the witness, which both Regions reach: each Region's member
// then has a leader to send its claims to (raft relays nothing through a
// follower); restored, the leader goes back to the writer's Region.
func TestTheLeaderWaitsOnTheWitnessWhileTheRegionsLinkIsCut(t *testing.T) {
	d := journalDaemon(t)
	d.topo.Writer = east
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.keepJournalLeader(ctx)
	leads := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for d.journal.Leader(east) != want || d.journal.Leader(west) != want {
			if time.Now().After(deadline) {
				t.Fatalf("leader seen from %s %q, from %s %q; want %s", east, d.journal.Leader(east), west, d.journal.Leader(west), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	leads(east)
	if err := d.journalCut(east, west); err != nil {
		t.Fatal(err)
	}
	leads(wit)
	if err := d.journalRestore(east, west); err != nil {
		t.Fatal(err)
	}
	leads(east)
}
