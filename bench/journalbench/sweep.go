package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// invocation is the payment function's timeout: each scheduled sweep
// runs within one invocation.
const invocation = time.Minute

// sweepAll lets the claims expire (the sweep runs a retention after the
// last of them) and sweeps them from region as the writer's scheduled
// invocations do, one invocation's time each, until none is left.
func sweepAll(ctx context.Context, j *claims.Journal, region string, c claimRun) error {
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
	fmt.Printf("sweep in %s: removed %d claims in %s over %d invocation(s) of %s: %.0f claims a minute (at most %d deletes in flight)\n",
		region, removed, took.Round(time.Millisecond), runs, invocation, float64(removed)/took.Minutes(), claims.DefaultSweepConcurrency)
	return checkSwept(ctx, j, c)
}

// checkSwept reads what the sweep left: every time item of the claims'
// minutes, and every 50th claim item. An invocation that ran out of time
// stops with deletes in flight that may still be applied (as on AWS), so
// the sweep's own count can fall short of what it removed; what is left
// cannot.
func checkSwept(ctx context.Context, j *claims.Journal, c claimRun) error {
	timeItems := 0
	last := c.pay(c.offered - 1).CreatedAt
	if err := j.Window(ctx, c.first.Add(-time.Minute), last.Add(time.Minute), func(claims.Claim) error { timeItems++; return nil }); err != nil {
		return err
	}
	claims, sampled := 0, 0
	for i := 0; i < c.offered; i += 50 {
		_, found, err := j.Get(ctx, c.pay(i).IdempotencyKey)
		if err != nil {
			return err
		}
		sampled++
		if found {
			claims++
		}
	}
	fmt.Printf("after the sweep: %d time items left, %d of %d sampled claim items left\n", timeItems, claims, sampled)
	if timeItems > 0 || claims > 0 {
		return fmt.Errorf("the sweep left %d time items and %d of %d sampled claims", timeItems, claims, sampled)
	}
	return nil
}
