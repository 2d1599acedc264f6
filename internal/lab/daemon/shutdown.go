package daemon

import (
	"database/sql"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// shutdown stops every in-process server and child process.
func (d *Daemon) shutdown() {
	if d.stop != nil {
		d.stop()
	}
	for _, s := range d.servers {
		_ = s.Close()
	}
	if d.link != nil {
		d.link.Close()
	}
	if d.journal != nil {
		d.journal.Close()
	}
	if d.ports != nil {
		d.ports.close()
	}
	for _, r := range d.parts {
		if p := d.service(r.name); p != nil {
			p.Stop(syscall.SIGTERM, 3*time.Second)
		}
	}
	d.thawAll()
	var wg sync.WaitGroup
	for _, r := range d.parts {
		if r.server != nil && r.server.Proc != nil {
			wg.Add(1)
			go func() { defer wg.Done(); r.server.Proc.Stop(syscall.SIGTERM, 10*time.Second) }()
		}
	}
	wg.Wait()
	if d.dynalite != nil {
		d.dynalite.Stop(syscall.SIGTERM, 3*time.Second)
	}
	for _, r := range d.parts {
		for _, db := range []*sql.DB{r.admin, r.hb} {
			if db != nil {
				db.Close()
			}
		}
	}
	// Anything a crashed start left behind.
	_, _ = proc.StopAll(string(d.dir), 5*time.Second)
	os.Remove(d.dir.Path(ReadyFile))
}
