package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/journal"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// invocation is the payment function's timeout: each scheduled sweep
// runs within one invocation.
const invocation = time.Minute

// sweepAll lets the claims expire (the sweep runs a retention after the
// last of them) and sweeps them from region as the writer's scheduled
// invocations do, one invocation's time each, until none is left.
func sweepAll(ctx context.Context, j *journal.Journal, region string, c claimRun) error {
	retention := payments.DefaultJournalRetention
	last := c.pay(c.offered - 1).CreatedAt
	now := last.Add(retention + 2*time.Minute)
	j.SweepLookback = now.Sub(c.first) - retention + time.Minute
	removed, runs := 0, 0
	t := time.Now()
	for {
		runs++
		ictx, cancel := context.WithTimeout(ctx, invocation)
		res, err := j.Sweep(ictx, now, retention)
		cancel()
		if err != nil {
			return fmt.Errorf("sweep in %s: %w", region, err)
		}
		removed += res.Removed
		if res.CaughtUp {
			break
		}
	}
	took := time.Since(t)
	fmt.Printf("sweep in %s: removed %d claims in %s over %d invocation(s) of %s: %.0f claims a minute\n",
		region, removed, took.Round(time.Millisecond), runs, invocation, float64(removed)/took.Minutes())
	if claimed := len(c.latencies); removed != claimed {
		return fmt.Errorf("the sweeps removed %d claims, want the %d claimed", removed, claimed)
	}
	return nil
}
