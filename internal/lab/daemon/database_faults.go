package daemon

import (
	"errors"
	"fmt"
)

// freeze stops region's database server (SIGSTOP), as a storage host
// that hangs: its connections stay open and every query waits. The
// daemon asks a frozen database nothing (status reports it frozen) and
// its other calls to it give up after their timeouts.
func (d *Daemon) freeze(region string) error {
	top := d.topology()
	switch {
	case top.Down[region]:
		return conflict("%s is down", region)
	case top.Frozen[region]:
		return conflict("%s's database is already frozen", region)
	}
	srv := d.parts[region].server
	if srv.Proc == nil || !srv.Proc.Running() {
		return conflict("%s's database server is not running", region)
	}
	if err := srv.Freeze(); err != nil {
		return errors.Join(fmt.Errorf("freezing %s's database: %w", region, err), srv.Thaw())
	}
	return d.setTopology(func(t *Topology) { t.Frozen[region] = true })
}

// thaw resumes region's frozen database server (SIGCONT).
func (d *Daemon) thaw(region string) error {
	if !d.topology().Frozen[region] {
		return conflict("%s's database is not frozen (db-freeze)", region)
	}
	if err := d.parts[region].server.Thaw(); err != nil {
		return fmt.Errorf("thawing %s's database: %w", region, err)
	}
	return d.setTopology(func(t *Topology) { delete(t.Frozen, region) })
}

// thawAll resumes every frozen server, so that a shutdown's SIGTERM is
// acted on (a stopped process keeps it pending) and no server is left
// stopped behind the daemon.
func (d *Daemon) thawAll() {
	for r := range d.topology().Frozen {
		if p := d.parts[r]; p != nil && p.server != nil && p.server.Proc != nil && p.server.Proc.Running() {
			_ = p.server.Thaw()
		}
	}
}
