package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/canary"
	"github.com/payment-dr/payment-dr/internal/lab/labcloud"
)

// connectLab builds the Cloud and the canary for a running DR lab
// (drlab up --dir DIR) instead of AWS: the lab's cloud (labcloud), and
// canaries through the lab's front door (the failover name) with the
// lab's API key, and reconcile's access to the old primary's kept data
// and the writer (resolved when reconcile runs).
func connectLab(ctx context.Context, cfg config.Config, o Options) (Conn, error) {
	lc, err := labcloud.Open(o.Lab)
	if err != nil {
		return Conn{}, fmt.Errorf("--lab %s: %w", o.Lab, err)
	}
	if lc.Lab.Environment != cfg.Environment {
		return Conn{}, fmt.Errorf("--lab %s runs environment %q, but --config is %q: pass the lab's configuration", o.Lab, lc.Lab.Environment, cfg.Environment)
	}
	for _, r := range cfg.Regions() {
		if _, ok := lc.Lab.Regions[r]; !ok {
			return Conn{}, fmt.Errorf("--lab %s has no Region %s of the configuration", o.Lab, r)
		}
	}
	if _, err := lc.API.Cluster(ctx); err != nil {
		return Conn{}, fmt.Errorf("--lab %s: %w", o.Lab, err)
	}
	regions := lc.Lab.Regions
	c := &canary.HTTP{WriteURL: lc.Lab.FailoverURL, APIKey: lc.Lab.APIKey, Client: &http.Client{Timeout: 5 * time.Second},
		RegionURL: func(r string) string { return regions[r].APIURL }}
	// The lab's moves take about 100 ms: poll its state at 200 ms rather
	// than the 5 s that suits AWS, so wait steps measure the move, not the
	// poll interval.
	return Conn{Cloud: lc, Canary: c, Reconcile: lc, Poll: 200 * time.Millisecond}, nil
}
