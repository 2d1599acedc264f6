package mrsc

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// With the link between the two Regions cut, each Region still writes
// through the witness while the witness leads (a follower sends its
// proposals to the leader itself, so a Region cut from a leader in the
// other Region writes nothing: raft relays nothing through a third
// member); with the witness cut off as well neither Region has a
// majority; once the pair is restored the two Regions are one again.
func TestCutPairLeavesEachRegionAMajorityThroughTheWitness(t *testing.T) {
	c, cl := startCluster(t, 2*time.Millisecond)
	ctx := context.Background()
	for deadline := time.Now().Add(15 * time.Second); c.Leader(east) != witness; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the leader did not move to %s", witness)
		}
		_ = c.MoveLeader(ctx, witness)
	}
	for _, bad := range [][2]string{{east, east}, {east, "eu-west-1"}} {
		if err := c.CutPair(bad[0], bad[1]); err == nil {
			t.Errorf("CutPair(%s, %s) accepted", bad[0], bad[1])
		}
	}
	if err := c.CutPair(east, west); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{east, west} {
		if err := putClaim(ctx, cl[r], "claim#cut-"+r, "p"); err != nil {
			t.Errorf("write in %s with the Regions' link cut: %v", r, err)
		}
	}
	for _, k := range pairKeys(east, west) {
		if n := c.peers.passing(k); n > 0 {
			t.Errorf("%d requests of the cut pair %s pass the routers", n, k)
		}
	}
	if err := c.Isolate(witness); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{east, west} {
		if err := putClaim(ctx, cl[r], "claim#alone-"+r, "p"); errorCode(err) != "InternalServerError" {
			t.Errorf("write in %s cut from both other members: got %v, want InternalServerError", r, err)
		}
	}
	if err := c.RestorePair(east, west); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{east, west} {
		var err error
		for i, deadline := 0, time.Now().Add(10*time.Second); ; i++ {
			if err = putClaim(ctx, cl[r], fmt.Sprintf("claim#restored-%s-%d", r, i), "p"); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("write in %s after the pair was restored: %v", r, err)
		}
	}
}
