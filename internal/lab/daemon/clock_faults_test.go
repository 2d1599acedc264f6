package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// clock-offset records drctl's offset for drctl to read, and a Region's
// for its service's environment (a Region down gets it at region-up);
// an offset of 0 ends the fault.
func TestClockOffsetsAreRecordedForDrctlAndTheServices(t *testing.T) {
	d := journalDaemon(t)
	d.topo.Down[east] = true
	ctx := context.Background()
	if err := d.clockOffset(ctx, labapi.DrctlClock, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := d.clockOffset(ctx, east, -2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := d.topology().ClockOffsets[labapi.DrctlClock]; got != time.Hour {
		t.Errorf("drctl's offset %s", got)
	}
	if got := d.clockOffsetEnv(east); got != "-2m0s" {
		t.Errorf("%s's LAB_CLOCK_OFFSET %q", east, got)
	}
	if got := d.clockOffsetEnv(west); got != "" {
		t.Errorf("%s's LAB_CLOCK_OFFSET %q without a fault", west, got)
	}
	if err := d.clockOffset(ctx, east, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.topology().ClockOffsets[east]; ok || d.clockOffsetEnv(east) != "" {
		t.Errorf("offset 0 left %v", d.topology().ClockOffsets)
	}
}
