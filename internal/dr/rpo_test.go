package dr_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/report"
)

// An unplanned drill where replication had stalled before the canaries
// began: every canary is lost, so their window is a few milliseconds while
// the lag recorded at failover is seconds. The RPO reported is the lag,
// called a lower bound, and judged on it.
func TestUnplannedDrillRPOIsAtLeastTheLagAtFailover(t *testing.T) {
	for _, tc := range []struct {
		lag     time.Duration
		verdict string
	}{{4067 * time.Millisecond, "met"}, {2 * time.Minute, "MISSED"}} {
		w := drfake.NewWorld()
		w.Replicate = false
		w.Lag["us-west-2"] = tc.lag
		c, log := controller(w)
		run := newRun(t, "drill", "us-west-2")
		res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Failover("us-west-2", true), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if res.Result.RPO < tc.lag {
			t.Errorf("lag %s: RPO %s reads lower than the lag at failover", tc.lag, res.Result.RPO)
		}
		rep := report.Build(run, report.Objectives{RTO: 2 * time.Minute, RPO: time.Minute}, &res.Result, res.Samples)
		var txt bytes.Buffer
		rep.WriteText(&txt)
		want := "RPO at least " + tc.lag.String() + " (objective 1m0s): " + tc.verdict
		bound := fmt.Sprintf("bounded by the replication lag at failover (lagAtFailoverMs %d", tc.lag.Milliseconds())
		if !strings.Contains(txt.String(), want) || !strings.Contains(txt.String(), "lower bound") || !strings.Contains(txt.String(), bound) {
			t.Errorf("lag %s: report lacks %q:\n%s", tc.lag, want, txt.String())
		}
		if rep.RPOMet == nil || *rep.RPOMet != (tc.verdict == "met") {
			t.Errorf("lag %s: RPO met %v", tc.lag, rep.RPOMet)
		}
	}
}
