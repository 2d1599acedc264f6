package payments

import (
	"context"
	"errors"
	"sync"
	"time"
)

// The transactional outbox: every payment's transaction also inserts an
// outbox row, so an event can be late but never lost. The request that
// committed publishes it at once and marks it sent; a row still unsent
// after InlineGrace (the publish failed, or the instance died) is claimed
// and published by a sweep: on the next requests, on a timer, and by the
// scheduled sweep invocation. The rows replicate with the database, so
// after a failover the new Region's sweeps publish what the old Region
// had not. Delivery is at least once: consumers deduplicate on the
// payment id the event carries.
const (
	// InlineGrace is how long a new row is left to the request that
	// committed it before sweeps may claim it.
	InlineGrace = 10 * time.Second
	// InlineTimeout bounds the request's own publish, well inside InlineGrace.
	InlineTimeout = 5 * time.Second
	// ClaimLease is how long a sweep's claim keeps other sweeps off a row.
	ClaimLease = 30 * time.Second
	// SweepBatch is how many rows one sweep claims at a time.
	SweepBatch = 50
)

// OutboxStore is the store's side of the outbox.
type OutboxStore interface {
	// ClaimEvent claims one payment's unsent event unless an attempt
	// holds it (a request within InlineGrace or a sweep's lease); rows
	// whose earlier attempts failed are claimable at once.
	ClaimEvent(ctx context.Context, paymentID string, now time.Time, lease time.Duration) (bool, error)
	// ClaimDue claims up to limit unsent events whose next attempt is due.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Payment, error)
	// MarkSent records that the events were accepted by the bus.
	MarkSent(ctx context.Context, paymentIDs []string, at time.Time) error
	// Retry counts a failed attempt and sets the next one.
	Retry(ctx context.Context, paymentIDs []string, next time.Time) error
}

// Relay publishes outbox rows and keeps the backoff shared by the
// requests and the sweeps of one instance.
type Relay struct {
	Store  OutboxStore
	Events Events
	// OnError reports a failed publish or bookkeeping step (logged).
	OnError    func(what string, paymentIDs []string, err error)
	MinBackoff time.Duration // default 500 ms
	MaxBackoff time.Duration // default 30 s

	mu          sync.Mutex
	backoff     time.Duration // 0 while the bus accepts events
	pausedUntil time.Time
	kick        chan struct{}
}

// Deliver publishes a just-committed payment's event and marks it sent.
// While the bus is failing (within the backoff) it leaves the row to the
// sweeps instead of making the request wait.
func (r *Relay) Deliver(ctx context.Context, p Payment) {
	if r.paused() {
		return
	}
	r.publish(ctx, []Payment{p})
}

// Redeliver publishes a replayed payment's pending event when no attempt
// holds it: the replay completes what the first attempt left undone.
func (r *Relay) Redeliver(ctx context.Context, p Payment) {
	ok, err := r.Store.ClaimEvent(ctx, p.ID, time.Now().UTC(), ClaimLease)
	if err != nil {
		r.report("claim", []Payment{p}, err)
	}
	if ok {
		r.publish(ctx, []Payment{p})
	}
}

// Sweep publishes every due row, SweepBatch at a time, until none is due,
// the bus fails (the backoff then decides the next try) or ctx ends. It
// returns how many events it published.
func (r *Relay) Sweep(ctx context.Context) (int, error) {
	sent := 0
	for !r.paused() {
		batch, err := r.Store.ClaimDue(ctx, time.Now().UTC(), ClaimLease, SweepBatch)
		if err != nil {
			return sent, err
		}
		sent += r.publishAll(ctx, batch)
		if len(batch) < SweepBatch || ctx.Err() != nil {
			break
		}
	}
	return sent, nil
}

// Run sweeps every interval, and at once when a request finds the bus
// back after a failure, until ctx ends. Errors are reported, not fatal
// (a read-only database here simply has nothing to sweep).
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	kick := r.kicks()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		sctx, cancel := context.WithTimeout(ctx, ClaimLease/2)
		if _, err := r.Sweep(sctx); err != nil && !errors.Is(err, ErrReadOnly) {
			r.report("sweep", nil, err)
		}
		cancel()
	}
}

// publishAll publishes claimed rows MaxEventBatch at a time, concurrently.
func (r *Relay) publishAll(ctx context.Context, ps []Payment) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for i := 0; i < len(ps); i += MaxEventBatch {
		chunk := ps[i:min(i+MaxEventBatch, len(ps))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := r.publish(ctx, chunk)
			mu.Lock()
			sent += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sent
}

// publish sends one PutEvents batch, marks the accepted rows sent and
// reschedules the others with the backoff. It returns how many were sent.
func (r *Relay) publish(ctx context.Context, ps []Payment) int {
	pctx, cancel := context.WithTimeout(ctx, InlineTimeout)
	defer cancel()
	evs := make([]Event, len(ps))
	for i, p := range ps {
		evs[i] = EventFor(p)
	}
	errs := r.Events.Publish(pctx, evs)
	var ok, failed []Payment
	var firstErr error
	for i, p := range ps {
		if i < len(errs) && errs[i] != nil {
			failed = append(failed, p)
			firstErr = errs[i]
		} else {
			ok = append(ok, p)
		}
	}
	// The bookkeeping must happen even if the caller's context ended.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer bcancel()
	if len(ok) > 0 {
		if err := r.Store.MarkSent(bctx, ids(ok), time.Now().UTC()); err != nil {
			r.report("mark sent (the sweep will publish them again)", ok, err)
		}
	}
	if len(failed) > 0 {
		r.report("publish", failed, firstErr)
		next := r.failed()
		if err := r.Store.Retry(bctx, ids(failed), next); err != nil {
			r.report("reschedule", failed, err)
		}
	} else {
		r.succeeded()
	}
	return len(ok)
}

func (r *Relay) paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Before(r.pausedUntil)
}

// failed doubles the backoff and returns when the next attempt is due.
func (r *Relay) failed() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	lo, hi := r.MinBackoff, r.MaxBackoff
	if lo <= 0 {
		lo = 500 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	r.backoff = min(max(2*r.backoff, lo), hi)
	r.pausedUntil = time.Now().Add(r.backoff)
	return r.pausedUntil.UTC()
}

// succeeded ends a backoff; the first success after failures starts a
// sweep for the rows that waited.
func (r *Relay) succeeded() {
	r.mu.Lock()
	wasFailing := r.backoff > 0
	r.backoff, r.pausedUntil = 0, time.Time{}
	r.mu.Unlock()
	if wasFailing {
		r.Kick()
	}
}

// Kick asks Run for a sweep now (without blocking).
func (r *Relay) Kick() {
	select {
	case r.kicks() <- struct{}{}:
	default:
	}
}

func (r *Relay) kicks() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kick == nil {
		r.kick = make(chan struct{}, 1)
	}
	return r.kick
}

func (r *Relay) report(what string, ps []Payment, err error) {
	if r.OnError != nil {
		r.OnError(what, ids(ps), err)
	}
}

func ids(ps []Payment) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}
