package mrsc

import (
	"context"
	"testing"
	"time"
)

// Over a Region-to-Region link slower than etcd's election timeout a
// direct leader transfer cannot finish (raft abandons a transfer after one
// election timeout), yet on AWS the new writer's claims need only the
// witness. The move goes through the witness, whose links are fast, and
// the new writer's claims then need no slow link at all.
func TestTheLeaderMovesToTheNewWriterOverASlowRegionLink(t *testing.T) {
	c, clients := startCluster(t, 1500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.MoveLeader(ctx, east); err != nil {
		t.Fatalf("leader to %s: %v", east, err)
	}
	if err := c.MoveLeader(ctx, west); err != nil {
		t.Fatalf("leader to %s over a 1.5 s link: %v", west, err)
	}
	if got := c.Leader(west); got != west {
		t.Fatalf("leader after the move: %q, want %s", got, west)
	}
	// Within the endpoint's 700 ms op timeout: the write needs the witness
	// only (the 1.5 s link would take 3 s).
	if err := putClaim(ctx, clients[west], "after-move", "p1"); err != nil {
		t.Fatalf("claim in %s after the move: %v", west, err)
	}
}
