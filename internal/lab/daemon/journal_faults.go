package daemon

import (
	"errors"
)

// journalPair is the record key of the pair of journal members a and b,
// the same either way round.
func journalPair(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

// cutOff reports whether a fault in force cuts all of member's journal
// links: its Region down or partitioned, or the witness down.
func cutOff(top Topology, witness, member string) bool {
	return top.Down[member] || top.Partitioned[member] || (member == witness && top.WitnessDown)
}

// reopenedPeers are the members whose links with member may carry
// traffic again once member itself is no longer cut off: every other
// member not cut off itself, unless journal-cut cut their pair.
func reopenedPeers(top Topology, members []string, witness, member string) []string {
	var out []string
	for _, o := range members {
		if o != member && !cutOff(top, witness, o) && !top.JournalCuts[journalPair(member, o)] {
			out = append(out, o)
		}
	}
	return out
}

// journalMembers are the journal's members: the Regions and the witness.
func (d *Daemon) journalMembers() []string { return append(d.regions(), d.journalWitness()) }

// rejoinJournal gives member back the links reopenedPeers allows and
// only those: restoring all of them (Rejoin) would reopen pairs a fault
// still cuts.
func (d *Daemon) rejoinJournal(member string, top Topology) error {
	var errs []error
	for _, o := range reopenedPeers(top, d.journalMembers(), d.journalWitness(), member) {
		errs = append(errs, d.journal.RestorePair(member, o))
	}
	return errors.Join(errs...)
}

// journalCut cuts the journal's links between members a and b only, both
// directions. Cutting the two Regions' pair leaves each a majority
// through the witness, as an MRSC table whose Regions lost each other
// but not the witness: the leader keeper moves etcd's leader to the
// witness meanwhile (keepJournalLeader), since raft relays nothing
// through a follower.
func (d *Daemon) journalCut(a, b string) error {
	key := journalPair(a, b)
	if d.topology().JournalCuts[key] {
		return conflict("the journal's link between %s and %s is already cut", a, b)
	}
	if err := d.setTopology(func(t *Topology) { t.JournalCuts[key] = true }); err != nil {
		return err
	}
	return d.journal.CutPair(a, b)
}

// journalRestore ends journal-cut of a and b. A pair one of whose
// members another fault still cuts off stays cut: the restore of that
// fault reopens it.
func (d *Daemon) journalRestore(a, b string) error {
	key := journalPair(a, b)
	if !d.topology().JournalCuts[key] {
		return conflict("the journal's link between %s and %s is not cut (journal-cut)", a, b)
	}
	if err := d.setTopology(func(t *Topology) { delete(t.JournalCuts, key) }); err != nil {
		return err
	}
	top, w := d.topology(), d.journalWitness()
	if cutOff(top, w, a) || cutOff(top, w, b) {
		return nil
	}
	return d.journal.RestorePair(a, b)
}
