package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
)

// returnProbe is how long a client pays inside a returned old writer.
const returnProbe = 3 * time.Second

// probeReturned sends payments for returnProbe straight to region's API
// with a client that never retries, as a client that still resolves the
// old Region would: every answer is recorded for verify, and what region
// acknowledged is counted (a returning old writer must acknowledge none).
func (d *driver) probeReturned(ctx context.Context, region string) error {
	f := filepath.Join(d.reports, "answers-returned-"+region+".jsonl")
	ld, err := d.lab.StartLoad(ctx, f, region, true)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(returnProbe):
	}
	if err := errors.Join(ctx.Err(), ld.Stop()); err != nil {
		return err
	}
	list, err := acks.ParseFile(f)
	if err != nil {
		return err
	}
	acked := 0
	for _, a := range list {
		if a.Acknowledged() {
			acked++
		}
	}
	d.probes, d.returnedProbed, d.returnedAcked = append(d.probes, f), true, d.returnedAcked+acked
	fmt.Fprintf(d.w, "   a client inside the returned %s: %d answers, %d acknowledged\n", region, len(list), acked)
	return nil
}

// rejoin runs drctl rejoin for region and records how long it took.
func (d *driver) rejoin(ctx context.Context, region string) error {
	start := time.Now()
	out, err := d.lab.Drctl(ctx, "rejoin", "--region", region, "--yes", "--report-dir", d.reports)
	if err != nil {
		return fmt.Errorf("drctl rejoin --region %s: %w\n%s", region, err, out)
	}
	d.rejoinTook = time.Since(start)
	fmt.Fprintf(d.w, "   drctl rejoin --region %s took %s\n", region, d.rejoinTook.Round(time.Millisecond))
	return nil
}
