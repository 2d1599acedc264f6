package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/smithy-go"

	"github.com/payment-dr/payment-dr/bench/benchdb"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// maxInFlight bounds the claims under way: at 1,000/s and 50 ms each,
// about 50 are; a backend that falls behind shows as late launches, not
// as unbounded goroutines.
const maxInFlight = 1024

// claimRun is what offering the claims measured.
type claimRun struct {
	first     time.Time
	every     time.Duration
	offered   int
	took      time.Duration
	latencies []time.Duration // of the successful claims
	throttled int             // answered with DynamoDB's throttling errors
	failed    map[string]int  // other errors, by code
	maxLate   time.Duration   // the latest a claim started after its time
}

func (c claimRun) pay(i int) payments.Payment { return benchdb.Payment(i, c.first, c.every) }

// offerClaims claims rate payments a second for d, open loop: each claim
// starts at its own time whatever the others do, as payments arrive.
func offerClaims(ctx context.Context, j *claims.Journal, rate int, d time.Duration, first time.Time) (claimRun, error) {
	run := claimRun{first: first, every: time.Second / time.Duration(rate), offered: int(d.Seconds() * float64(rate)), failed: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxInFlight)
	for i := range run.offered {
		p := run.pay(i)
		if wait := time.Until(p.CreatedAt); wait > 0 {
			time.Sleep(wait)
		}
		slots <- struct{}{}
		run.maxLate = max(run.maxLate, time.Since(p.CreatedAt))
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			t := time.Now()
			_, err := j.Claim(ctx, claimOf(p))
			took := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			run.record(took, err)
		}()
	}
	wg.Wait()
	run.took = time.Since(first)
	return run, nil
}

func (c *claimRun) record(took time.Duration, err error) {
	var api smithy.APIError
	switch {
	case err == nil:
		c.latencies = append(c.latencies, took)
	case errors.As(err, &api) && throttling(api.ErrorCode()):
		c.throttled++
	case errors.As(err, &api):
		c.failed[api.ErrorCode()]++
	default:
		c.failed[err.Error()]++
	}
}

// throttling names DynamoDB's throttling errors (API Reference, "Common
// Errors" and PutItem "Errors").
func throttling(code string) bool {
	return code == "ProvisionedThroughputExceededException" || code == "ThrottlingException" || code == "RequestLimitExceeded"
}

func claimOf(p payments.Payment) claims.Claim {
	return claims.Claim{Key: p.IdempotencyKey, PaymentID: p.ID, RequestHash: benchdb.RequestHash, Amount: p.Amount,
		Currency: p.Currency, MerchantRef: p.MerchantRef, CustomerRef: p.CustomerRef, SessionID: p.SessionID,
		Status: claims.StatusProcessed, Region: p.Region, ClaimedAt: p.CreatedAt}
}

func (c claimRun) print(rate int) {
	slices.Sort(c.latencies)
	q := func(f float64) time.Duration {
		if len(c.latencies) == 0 {
			return 0
		}
		return c.latencies[int(f*float64(len(c.latencies)-1))].Round(100 * time.Microsecond)
	}
	fmt.Printf("claims: offered %d at %d/s; claimed %d in %s (%.0f/s), throttled %d, other errors %v\n",
		c.offered, rate, len(c.latencies), c.took.Round(time.Millisecond), float64(len(c.latencies))/c.took.Seconds(), c.throttled, c.failed)
	fmt.Printf("claim latency p50 %s p90 %s p99 %s max %s; latest start behind schedule %s\n", q(0.5), q(0.9), q(0.99), q(1), c.maxLate.Round(time.Millisecond))
}
