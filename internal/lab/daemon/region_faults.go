package daemon

import (
	"context"
	"fmt"
	"log"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/repl"
)

// regionDown is a Region outage: the link is cut, the service and the
// database are killed (SIGKILL: no clean shutdown, as when a Region is
// lost; it ends a frozen server too, which SIGTERM would not) and its
// event bus refuses events.
func (d *Daemon) regionDown(region string) error {
	if d.topology().Down[region] {
		return conflict("%s is already down", region)
	}
	if err := d.setTopology(func(t *Topology) { t.Down[region] = true; delete(t.Frozen, region) }); err != nil {
		return err
	}
	d.link.Cut()
	if err := d.journal.Isolate(region); err != nil {
		return err
	}
	d.parts[region].bus.SetDown(true)
	if svc := d.service(region); svc != nil {
		svc.Stop(syscall.SIGKILL, time.Second)
	}
	if p := d.parts[region].server.Proc; p != nil {
		p.Stop(syscall.SIGKILL, time.Second)
	}
	return nil
}

// regionUp restarts the Region: its database comes up read-only (as any
// restarted node) and the link returns; it is made writable again only
// if it still holds the writer, resumes replicating if it is an intact
// replica, and is resynchronised (its own data kept aside first) if an
// unplanned failover left it diverged. region-up of a diverged Region
// that is not down resynchronises it. With writable, a diverged old
// primary comes back accepting writes instead, as when Aurora's fence of
// it failed, until the lab's Aurora rejoins it AuroraRejoinDelay later.
func (d *Daemon) regionUp(ctx context.Context, region string, writable bool) error {
	top := d.topology()
	if !top.Down[region] && !top.Diverged[region] {
		return conflict("%s is not down", region)
	}
	if top.Frozen[region] {
		return conflict("%s's database is frozen: db-thaw %s first", region, region)
	}
	if writable && !top.Diverged[region] {
		return conflict("region-up --writable is for the old primary of an unplanned failover; %s is not one", region)
	}
	if top.Down[region] {
		if p := d.parts[region].server.Proc; p == nil || !p.Running() {
			if err := d.parts[region].server.Start(ctx, string(d.dir)); err != nil {
				return err
			}
		}
		if err := d.restoreLinks(region, top); err != nil {
			return err
		}
	}
	step := func(s string) { log.Printf("region-up %s: %s", region, s) }
	switch {
	case writable:
		if err := repl.Unfence(ctx, d.node(region)); err != nil {
			return err
		}
		if err := d.setTopology(func(t *Topology) { t.Writable[region] = true }); err != nil {
			return err
		}
		go d.auroraRejoin(region, top.Writer)
	case top.Diverged[region]:
		if err := d.resync(ctx, region, top.Writer, step); err != nil {
			return fmt.Errorf("resynchronising %s: %w", region, err)
		}
	case top.Writer == region:
		if err := repl.Unfence(ctx, d.node(region)); err != nil {
			return err
		}
	case !top.Stalled[region]:
		if err := repl.Resume(ctx, d.node(region)); err != nil {
			return fmt.Errorf("resuming replication into %s: %w", region, err)
		}
	}
	if top.Down[region] {
		if err := d.startService(region); err != nil {
			return err
		}
		d.parts[region].bus.SetDown(false)
	}
	return d.setTopology(func(t *Topology) { delete(t.Down, region) })
}

// AuroraRejoinDelay is how long an old primary that came back writable
// stays so before the lab's Aurora rejoins it as a replica: Aurora does
// that on its own once the Region is back, some time later.
const AuroraRejoinDelay = 5 * time.Second

// auroraRejoin makes an old primary read-only (if it is writable) and resynchronises
// it (its own data kept aside first), unless the lab changed meanwhile.
func (d *Daemon) auroraRejoin(region, writer string) {
	time.Sleep(AuroraRejoinDelay)
	d.moveMu.Lock()
	defer d.moveMu.Unlock()
	top := d.topology()
	if top.Down[region] || top.Partitioned[region] || !top.Diverged[region] || top.Writer != writer {
		return
	}
	if top.Frozen[region] || top.Frozen[writer] {
		// Its queries would hold every fault, db-thaw included, for minutes.
		log.Printf("aurora rejoin %s: a database is frozen; after db-thaw, region-up %s resynchronises it", region, region)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	step := func(s string) { log.Printf("aurora rejoin %s: %s", region, s) }
	step("make " + region + " read-only and rejoin it as a replica of " + writer)
	var err error
	if top.Writable[region] {
		err = repl.Fence(ctx, d.node(region))
		if err == nil {
			err = d.setTopology(func(t *Topology) { delete(t.Writable, region) })
		}
	}
	if err == nil {
		err = d.resync(ctx, region, writer, step)
	}
	if err != nil {
		step("failed: " + err.Error())
	}
}
