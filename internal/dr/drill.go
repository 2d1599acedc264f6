package dr

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/journal"
	"github.com/payment-dr/payment-dr/internal/dr/measure"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
)

// DrillOptions tune a drill.
type DrillOptions struct {
	Interval time.Duration // between canary writes (default 1 s)
	Warmup   int           // successful writes before the writer moves (default 5)
	Settle   int           // successful writes after the plan before stopping (default 5)
	// WarmupTimeout bounds the wait for the first writes (default 2 min):
	// a drill whose canaries cannot write never moves the writer.
	WarmupTimeout time.Duration
	// SettleTimeout bounds the wait for those writes (default 5 min).
	SettleTimeout time.Duration
}

func (o DrillOptions) withDefaults() DrillOptions {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Warmup <= 0 {
		o.Warmup = 5
	}
	if o.Settle <= 0 {
		o.Settle = 5
	}
	if o.WarmupTimeout <= 0 {
		o.WarmupTimeout = 2 * time.Minute
	}
	if o.SettleTimeout <= 0 {
		o.SettleTimeout = 5 * time.Minute
	}
	return o
}

// DrillResult is a drill's measurements and raw canary samples.
type DrillResult struct {
	Result  measure.Result   `json:"result"`
	Samples []measure.Sample `json:"samples"`
}

// Drill writes canary payments continuously, runs p (a switchover or
// failover), keeps writing until the new primary acknowledges writes, then
// reads back every write acknowledged before the writer moved from the new
// primary. RTO and RPO come from those samples (package measure).
func (c *Controller) Drill(ctx context.Context, canary Canary, p plan.Plan, run *journal.Run, opt DrillOptions) (DrillResult, error) {
	opt = opt.withDefaults()
	var mu sync.Mutex
	// A resumed drill keeps the canaries of its first attempt: they are
	// appended to canaries.jsonl beside the journal as they are taken.
	samples, err := journal.LoadSamples(run)
	if err != nil {
		return DrillResult{}, err
	}
	sampleLog, err := journal.SampleWriter(run)
	if err != nil {
		return DrillResult{}, err
	}
	defer sampleLog.Close()
	okAfter := func(t time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range samples {
			if s.OK && s.Start.After(t) {
				n++
			}
		}
		return n
	}

	first := len(samples)
	// A drill resumed after its plan started does not wait for warm-up
	// writes: the writer may be mid-move, and the canaries of the first
	// attempt already showed the old primary taking writes.
	resumed := len(run.Steps) > 0
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(opt.Interval)
		defer tick.Stop()
		for seq := first; ; seq++ {
			key := fmt.Sprintf("%s-canary-%05d", run.ID, seq)
			s := measure.Sample{Key: key, Start: c.now()}
			wctx, cancel := context.WithTimeout(cctx, 10*time.Second)
			id, region, err := canary.Write(wctx, key)
			cancel()
			s.End = c.now()
			if cctx.Err() != nil {
				return // stopped mid-write: not a sample
			}
			s.OK, s.ID, s.Region = err == nil, id, region
			if err != nil {
				s.Err = err.Error()
			}
			mu.Lock()
			samples = append(samples, s)
			if err := sampleLog.Append(s); err != nil && c.Log != nil {
				fmt.Fprintf(c.Log, "  warning: canary %s not saved: %v\n", key, err)
			}
			mu.Unlock()
			select {
			case <-cctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	begin := c.now().Add(-time.Nanosecond)
	wctx, cancelWarmup := context.WithTimeout(ctx, opt.WarmupTimeout)
	err = plan.Wait(wctx, opt.Interval/2, "warm-up canary writes", func(context.Context) (bool, error) {
		return resumed || okAfter(begin) >= opt.Warmup, nil
	})
	cancelWarmup()
	if err != nil {
		stop()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		last := "none written"
		if len(samples) > 0 {
			last = samples[len(samples)-1].Err
		}
		return DrillResult{Samples: samples}, fmt.Errorf("canary writes did not succeed before the drill, so the writer was not moved (last error: %s): %w", last, err)
	}

	planErr := plan.Execute(ctx, p, run, c.Clock, c.Log)
	failoverAt := c.now()
	for _, name := range []string{"switch-writer", "promote"} {
		for _, st := range run.Steps {
			if st.Name == name && !st.Started.IsZero() {
				failoverAt = st.Started
			}
		}
	}
	if planErr == nil {
		planEnd := c.now()
		sctx, cancel := context.WithTimeout(ctx, opt.SettleTimeout)
		planErr = plan.Wait(sctx, opt.Interval/2, "canary writes in the new primary", func(context.Context) (bool, error) {
			return okAfter(planEnd) >= opt.Settle, nil
		})
		cancel()
	}
	stop()
	wg.Wait()

	missing := map[string]bool{}
	var readErr error
	for _, s := range samples {
		if !s.OK || s.End.After(failoverAt) {
			continue
		}
		found, err := canary.Read(ctx, p.Target, s.ID)
		if err != nil {
			readErr = fmt.Errorf("reading canary %s back from %s: %w", s.ID, p.Target, err)
			break
		}
		if !found {
			missing[s.ID] = true
		}
	}
	res := DrillResult{Result: measure.Measure(samples, failoverAt, p.Target, missing), Samples: samples}
	if planErr != nil {
		return res, planErr
	}
	return res, readErr
}
