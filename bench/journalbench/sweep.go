package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/journal"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// sweepAll lets the claims expire (the sweep runs a retention after the
// last of them) and sweeps them as the scheduled invocations do: each
// Region's sweep within one invocation's time, until none is left.
func sweepAll(ctx context.Context, journals map[string]*journal.Journal, c claimRun) error {
	retention := payments.DefaultJournalRetention
	last := c.pay(c.offered - 1).CreatedAt
	now := last.Add(retention + 2*time.Minute)
	for _, j := range journals {
		j.SweepLookback = now.Sub(c.first) - retention + time.Minute
	}
	removed := 0
	t := time.Now()
	for _, r := range []string{east, west} {
		res, err := journals[r].Sweep(ctx, now, retention)
		if err != nil {
			return fmt.Errorf("sweep in %s: %w", r, err)
		}
		removed += res.Removed
		fmt.Printf("sweep in %s: removed %d claims in %s (%.0f a minute)\n", r, res.Removed, time.Since(t).Round(time.Millisecond), float64(res.Removed)/time.Since(t).Minutes())
		t = time.Now()
	}
	if claimed := len(c.latencies); removed != claimed {
		return fmt.Errorf("the sweeps removed %d claims, want the %d claimed", removed, claimed)
	}
	return nil
}
