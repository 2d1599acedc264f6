package daemon

import (
	"context"
	"fmt"
	"log"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/repl"
)

// FaultKinds are the faults `drlab fault` accepts, with their arguments.
var FaultKinds = map[string]string{
	"region-down": "REGION", "region-up": "REGION", "link-cut": "", "link-restore": "",
	"link-latency": "DURATION", "replication-stall": "", "replication-resume": "",
}

// ParseFault validates a fault request.
func ParseFault(r labapi.FaultRequest, regions []string) (time.Duration, error) {
	want, ok := FaultKinds[r.Kind]
	if !ok {
		return 0, fmt.Errorf("unknown fault %q (kinds: region-down REGION, region-up REGION, link-cut, link-restore, link-latency DURATION, replication-stall, replication-resume)", r.Kind)
	}
	switch {
	case want == "" && len(r.Args) != 0:
		return 0, fmt.Errorf("%s takes no argument", r.Kind)
	case want != "" && len(r.Args) != 1:
		return 0, fmt.Errorf("%s takes one argument: %s", r.Kind, want)
	case want == "REGION" && r.Args[0] != regions[0] && r.Args[0] != regions[1]:
		return 0, fmt.Errorf("%s: %q is not a Region of the lab (%s or %s)", r.Kind, r.Args[0], regions[0], regions[1])
	case want == "DURATION":
		d, err := ParseLatency(r.Args[0])
		return d, err
	}
	return 0, nil
}

// ParseLatency parses a one-way link latency: a Go duration from 0 to 10 s
// in whole milliseconds (Toxiproxy's unit).
func ParseLatency(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("latency %q: want a duration such as 35ms", s)
	case d < 0 || d > 10*time.Second:
		return 0, fmt.Errorf("latency %s: want 0 to 10s", d)
	case d%time.Millisecond != 0:
		return 0, fmt.Errorf("latency %s: want whole milliseconds", d)
	}
	return d, nil
}

// fault applies a validated fault.
func (d *Daemon) fault(ctx context.Context, r labapi.FaultRequest) error {
	lat, err := ParseFault(r, d.regions())
	if err != nil {
		return badRequest("%v", err)
	}
	d.moveMu.Lock()
	defer d.moveMu.Unlock()
	switch r.Kind {
	case "region-down":
		return d.regionDown(r.Args[0])
	case "region-up":
		return d.regionUp(ctx, r.Args[0])
	case "link-cut":
		d.link.Cut()
	case "link-restore":
		return d.link.Restore()
	case "link-latency":
		return d.link.SetLatency(lat)
	case "replication-stall", "replication-resume":
		return d.stall(ctx, r.Kind == "replication-stall")
	}
	return nil
}

// regionDown is a Region outage: the link is cut, the service and the
// database are killed (SIGKILL: no clean shutdown, as when a Region is
// lost) and its event bus refuses events.
func (d *Daemon) regionDown(region string) error {
	if d.topology().Down[region] {
		return conflict("%s is already down", region)
	}
	if err := d.setTopology(func(t *Topology) { t.Down[region] = true }); err != nil {
		return err
	}
	d.link.Cut()
	d.buses[region].SetDown(true)
	d.mu.Lock()
	svc := d.services[region]
	d.mu.Unlock()
	if svc != nil {
		svc.Stop(syscall.SIGKILL, time.Second)
	}
	if p := d.servers[region].Proc; p != nil {
		p.Stop(syscall.SIGKILL, time.Second)
	}
	return nil
}

// regionUp restarts the Region: its database comes up read-only (as any
// restarted node) and the link returns; it is made writable again only
// if it still holds the writer, resumes replicating if it is an intact
// replica, and is resynchronised (its own data kept aside first) if an
// unplanned failover left it diverged. region-up of a diverged Region
// that is not down resynchronises it.
func (d *Daemon) regionUp(ctx context.Context, region string) error {
	top := d.topology()
	if !top.Down[region] && !top.Diverged[region] {
		return conflict("%s is not down", region)
	}
	if top.Down[region] {
		if p := d.servers[region].Proc; p == nil || !p.Running() {
			if err := d.servers[region].Start(ctx, string(d.dir)); err != nil {
				return err
			}
		}
		if err := d.link.Restore(); err != nil {
			return err
		}
	}
	step := func(s string) { log.Printf("region-up %s: %s", region, s) }
	switch {
	case top.Diverged[region]:
		if err := d.resync(ctx, region, top.Writer, step); err != nil {
			return fmt.Errorf("resynchronising %s: %w", region, err)
		}
	case top.Writer == region:
		if _, err := d.admin[region].ExecContext(ctx, "SET GLOBAL read_only=0"); err != nil {
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
		d.buses[region].SetDown(false)
	}
	return d.setTopology(func(t *Topology) { delete(t.Down, region) })
}

// stall stops (or restarts) replication into the Region that is not the
// writer, so lag grows (or catches up).
func (d *Daemon) stall(ctx context.Context, stall bool) error {
	top := d.topology()
	replica := d.cfg.Other(top.Writer)
	if top.Down[replica] {
		return conflict("the replica %s is down", replica)
	}
	if top.Diverged[replica] {
		return conflict("%s diverged after an unplanned failover and does not replicate until it is rebuilt", replica)
	}
	var err error
	if stall {
		err = repl.Stall(ctx, d.node(replica))
	} else {
		err = repl.Resume(ctx, d.node(replica))
	}
	if err != nil {
		return err
	}
	return d.setTopology(func(t *Topology) {
		if stall {
			t.Stalled[replica] = true
		} else {
			delete(t.Stalled, replica)
		}
	})
}
