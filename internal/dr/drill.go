package dr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/measure"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
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

// canaries writes canary payments in the background and keeps every
// sample: in canaries.jsonl (crash-safe append) and in the journal (which
// the mirror carries to another machine).
type canaries struct {
	mu      sync.Mutex
	samples []measure.Sample
}

func (cs *canaries) okAfter(t time.Time) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := 0
	for _, s := range cs.samples {
		if s.OK && s.Start.After(t) {
			n++
		}
	}
	return n
}

func (cs *canaries) all() []measure.Sample {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]measure.Sample(nil), cs.samples...)
}

func (c *Controller) writeCanaries(ctx context.Context, canary Canary, run *runlog.Run, cs *canaries, log *runlog.SampleLog, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := len(cs.all()); ; seq++ {
		key := fmt.Sprintf("%s-canary-%05d", run.ID, seq)
		s := measure.Sample{Key: key, Start: c.now(), Amount: measure.CanaryAmount}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		id, region, err := canary.Write(wctx, key)
		cancel()
		s.End = c.now()
		if ctx.Err() != nil {
			return // stopped mid-write: not a sample
		}
		s.OK, s.ID, s.Region = err == nil, id, region
		if err != nil {
			s.Err = err.Error()
		}
		cs.mu.Lock()
		cs.samples = append(cs.samples, s)
		cs.mu.Unlock()
		run.AddSample(s)
		if err := log.Append(s); err != nil {
			c.warn("canary %s not saved: %v", key, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Drill writes canary payments continuously, runs p (a switchover or
// failover), keeps writing until the new primary acknowledges writes, then
// reads back from the new primary every write the old primary
// acknowledged, whenever it did (after the request too: a split brain).
// RTO and RPO come from those samples (package measure).
func (c *Controller) Drill(ctx context.Context, canary Canary, p plan.Plan, run *runlog.Run, opt DrillOptions) (DrillResult, error) {
	opt = opt.withDefaults()
	prior, err := runlog.LoadSamples(run)
	if err != nil {
		return DrillResult{}, err
	}
	log, err := runlog.SampleWriter(run)
	if err != nil {
		return DrillResult{}, err
	}
	defer log.Close()
	cs := &canaries{samples: prior}
	// A drill resumed after its plan started does not wait for warm-up
	// writes: the writer may be mid-move.
	resumed := len(run.Steps) > 0
	// begin is read before the first canary starts: every canary counts.
	begin := c.now().Add(-time.Nanosecond)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { c.writeCanaries(cctx, canary, run, cs, log, opt.Interval) })
	halt := func() { stop(); wg.Wait() }
	fast := plan.Backoff{Min: opt.Interval / 2, Max: opt.Interval}

	wctx, cancelWarmup := context.WithTimeout(ctx, opt.WarmupTimeout)
	err = plan.Wait(wctx, fast, "warm-up canary writes", func(context.Context) (bool, error) {
		return resumed || cs.okAfter(begin) >= opt.Warmup, nil
	})
	cancelWarmup()
	if err != nil {
		halt()
		samples := cs.all()
		last := "none written"
		if len(samples) > 0 {
			last = samples[len(samples)-1].Err
		}
		return DrillResult{Samples: samples}, fmt.Errorf("canary writes did not succeed before the drill, so the writer was not moved (last error: %s): %w", last, err)
	}
	planErr := plan.Execute(ctx, p, run, c.Clock, c.Log)
	if planErr == nil {
		planEnd := c.now()
		sctx, cancel := context.WithTimeout(ctx, opt.SettleTimeout)
		planErr = plan.Wait(sctx, fast, "canary writes in the new primary", func(context.Context) (bool, error) {
			return cs.okAfter(planEnd) >= opt.Settle, nil
		})
		cancel()
	}
	halt()
	moveAt, ok := run.MoveAt()
	if !ok {
		moveAt = c.now() // the move was never requested
	}
	samples := cs.all()
	missing, read, readErr := c.readBack(ctx, canary, samples, moveAt, p.Target)
	res := DrillResult{Result: measure.Measure(samples, moveAt, p.Target, missing), Samples: samples}
	res.Result.ReadBack = read
	boundByRecordedLag(&res.Result, run)
	if readErr != nil {
		res.Result.RPOUnknown = readErr.Error()
	}
	if err := run.Save(); err != nil { // the samples, mirrored with the journal
		planErr = errors.Join(planErr, err)
	}
	return res, errors.Join(planErr, readErr)
}

// readBack reads from target every write acknowledged by a Region other
// than target, or before the move: those the failover may have lost. It
// reads them all, whatever fails, and says how many it could not read.
func (c *Controller) readBack(ctx context.Context, canary Canary, samples []measure.Sample, moveAt time.Time, target string) (map[string]bool, int, error) {
	missing := map[string]bool{}
	var errs []error
	read := 0
	for _, s := range samples {
		if !s.OK || (s.Region == target && s.End.After(moveAt)) || (s.Region == "" && s.End.After(moveAt)) {
			continue
		}
		found, err := canary.Read(ctx, target, s.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("canary %s: %w", s.ID, err))
			continue
		}
		read++
		if !found {
			missing[s.ID] = true
		}
	}
	if len(errs) > 0 {
		return missing, read, fmt.Errorf("RPO unknown: %d of %d acknowledged writes could not be read back from %s (first: %w)", len(errs), len(errs)+read, target, errs[0])
	}
	return missing, read, nil
}

// boundByRecordedLag folds the lag record-lag saved in the journal into
// the RPO: the canaries alone can read low.
func boundByRecordedLag(r *measure.Result, run *runlog.Run) {
	if v, ok := run.Values[LagAtFailoverMsKey]; ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.BoundByLag(time.Duration(ms) * time.Millisecond)
			return
		}
		r.LagUnknown = "unreadable " + LagAtFailoverMsKey + " " + strconv.Quote(v)
	}
	if v, ok := run.Values[LagAtFailoverKey]; ok {
		r.LagUnknown = v
	}
}
