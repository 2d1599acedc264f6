package daemon

import (
	"errors"
	"time"
)

// partition cuts region from the other Region (the replication link, both
// directions) and from the journal's witness (its etcd member's peer
// links), while its payment service and database keep running and a
// client inside the Region still reaches its API: the classic partition.
func (d *Daemon) partition(region string) error {
	top := d.topology()
	switch {
	case top.Down[region]:
		return conflict("%s is down", region)
	case top.Partitioned[region]:
		return conflict("%s is already partitioned", region)
	}
	if err := d.setTopology(func(t *Topology) { t.Partitioned[region] = true }); err != nil {
		return err
	}
	d.link.Cut()
	return d.journal.Isolate(region)
}

// heal ends region's partition: its journal member rejoins the others and
// the replication link returns (unless a Region is down). An old writer a
// failover left behind (diverged) is rejoined as a replica by the lab's
// Aurora AuroraRejoinDelay later, as after region-up: Aurora does so for
// an old primary once its Region is reachable again, whatever kept it
// away.
func (d *Daemon) heal(region string) error {
	top := d.topology()
	if !top.Partitioned[region] {
		return conflict("%s is not partitioned", region)
	}
	if err := d.setTopology(func(t *Topology) { delete(t.Partitioned, region) }); err != nil {
		return err
	}
	top = d.topology()
	if err := d.restoreLinks(region, top); err != nil {
		return err
	}
	if top.Diverged[region] && !top.Down[region] && top.Writer != region {
		go d.auroraRejoin(region, top.Writer)
	}
	return nil
}

// restoreLinks gives region back its journal links (those to members not
// cut off, and not cut by journal-cut) and, when no Region is down or
// partitioned any more, the replication link.
func (d *Daemon) restoreLinks(region string, top Topology) error {
	var errs []error
	if !top.Partitioned[region] {
		errs = append(errs, d.rejoinJournal(region, top))
	}
	others := false
	for r := range top.Down {
		others = others || r != region
	}
	if !others && len(top.Partitioned) == 0 {
		errs = append(errs, d.link.Restore())
	}
	return errors.Join(errs...)
}

// setLatency changes the inter-Region latency of the replication link
// and of the journal's links between the two Regions.
func (d *Daemon) setLatency(l time.Duration) error {
	return errors.Join(d.link.SetLatency(l), d.journal.SetRegionLatency(l))
}

// witness cuts the journal's witness off from both Regions (up false) or
// gives it back its links to Regions not cut off, except pairs journal-cut
// cut (up true). With the witness down each Region's claims need the
// other Region: a writer whose peer is down or partitioned too has no
// majority, as on AWS when two of an MRSC table's three Regions are
// unreachable.
func (d *Daemon) witness(up bool) error {
	top := d.topology()
	switch {
	case !up && top.WitnessDown:
		return conflict("the witness is already down")
	case up && !top.WitnessDown:
		return conflict("the witness is not down")
	}
	if err := d.setTopology(func(t *Topology) { t.WitnessDown = !up }); err != nil {
		return err
	}
	if !up {
		return d.journal.Isolate(d.journalWitness())
	}
	return d.rejoinJournal(d.journalWitness(), top)
}
