package daemon

import (
	"context"
	"log"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// clockOffset shifts a clock by off (0 ends the fault): drctl's, which
// drctl reads from the lab's status when it connects, or a Region's
// payment service's, which restarts with LAB_CLOCK_OFFSET (a Region down
// gets it when region-up restarts it). A service whose clock is more than
// payments.MaxClockSkew from its database's takes no payment.
func (d *Daemon) clockOffset(_ context.Context, clock string, off time.Duration) error {
	if err := d.setTopology(func(t *Topology) {
		if t.ClockOffsets == nil {
			t.ClockOffsets = map[string]time.Duration{}
		}
		t.ClockOffsets[clock] = off
		if off == 0 {
			delete(t.ClockOffsets, clock)
		}
	}); err != nil {
		return err
	}
	if clock == labapi.DrctlClock || d.topology().Down[clock] {
		return nil
	}
	log.Printf("clock-offset %s %s: restarting %s's payment service", clock, off, clock)
	if svc := d.service(clock); svc != nil {
		svc.Stop(syscall.SIGTERM, 5*time.Second)
	}
	return d.startService(clock)
}

// clockOffsetEnv is LAB_CLOCK_OFFSET for region's service ("" for none).
func (d *Daemon) clockOffsetEnv(region string) string {
	if off := d.topology().ClockOffsets[region]; off != 0 {
		return off.String()
	}
	return ""
}
