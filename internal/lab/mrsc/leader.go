package mrsc

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Leader is the name of the member the given Region's member follows
// ("" when it knows no leader).
func (c *Cluster) Leader(region string) string {
	m := c.members[region]
	if m == nil || m.etcd == nil {
		return ""
	}
	lead := m.etcd.Server.Leader()
	for _, o := range c.members {
		if o.id == lead {
			return o.name
		}
	}
	return ""
}

// leading is the member that leads in its own view, at the highest term
// if an old leader has not yet heard of the new one (nil if none leads).
// A follower's view can be stale by a slow link's latency.
func (c *Cluster) leading() *member {
	var lead *member
	for _, m := range c.members {
		if m.etcd == nil || m.etcd.Server.Leader() != m.id {
			continue
		}
		if lead == nil || m.etcd.Server.Term() > lead.etcd.Server.Term() {
			lead = m
		}
	}
	return lead
}

// leaderTransferTimeout bounds one leadership transfer.
const leaderTransferTimeout = 5 * time.Second

// MoveLeader hands leadership to name, so that a write in its Region costs
// one round trip to the nearest other member, as an MRSC write does.
//
// MRSC has no leader; etcd does, and raft abandons a transfer that takes
// longer than an election timeout (1 s here). A transfer between the two
// Regions therefore goes through the witness whenever the witness's two
// links are faster than the Regions' own and open: a slow Region link (a
// planned switchover at 1.5 s) still moves the leader to the new writer,
// and meanwhile the witness leads, which every Region reaches fast.
func (c *Cluster) MoveLeader(ctx context.Context, name string) error {
	target, ok := c.members[name]
	if !ok {
		return fmt.Errorf("mrsc: no member %q", name)
	}
	leader := c.leading()
	if leader == nil {
		return errors.New("mrsc: no leader to move")
	}
	if leader == target {
		return nil
	}
	if c.viaWitness(leader.name, target.name) {
		w := c.members[c.opt.Witness]
		if err := transfer(ctx, leader, w); err != nil {
			return fmt.Errorf("mrsc: moving the leader from %s to the witness %s: %w", leader.name, w.name, err)
		}
		leader = w
	}
	if err := transfer(ctx, leader, target); err != nil {
		return fmt.Errorf("mrsc: moving the leader from %s to %s: %w", leader.name, target.name, err)
	}
	return nil
}

// viaWitness reports whether a transfer between members from and to is
// faster through the witness: both are Regions, the witness's links to
// them are open and together slower than the Regions' link.
func (c *Cluster) viaWitness(from, to string) bool {
	w := c.opt.Witness
	if from == w || to == w {
		return false
	}
	if !c.peers.open(from, w) || !c.peers.open(w, to) {
		return false
	}
	return c.witnessLatency(from)+c.witnessLatency(to) < time.Duration(c.regionLatency.Load())
}

// transfer asks leader's server to hand leadership to target and waits
// until target leads.
func transfer(ctx context.Context, leader, target *member) error {
	ctx, cancel := context.WithTimeout(ctx, leaderTransferTimeout)
	defer cancel()
	return leader.etcd.Server.MoveLeader(ctx, uint64(leader.id), uint64(target.id))
}

// open reports whether raft messages pass between a and b both ways.
func (p *peerLinks) open(a, b string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.cutPairs[pairKey(a, b)] && !p.cutPairs[pairKey(b, a)]
}
