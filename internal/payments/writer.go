package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// WriterRecord is the journal's writer record: the one Region whose
// service may claim keys, and its epoch, bumped by every move.
type WriterRecord struct {
	Region string
	Epoch  int64
}

// WriterLease is the longest a service acts on one confirmation that it
// is the writer: a payment is answered only if a strongly consistent read
// of the writer record that started less than WriterLease before named
// this Region at the epoch the request was admitted under. A move waits
// WriterLease after its new epoch is written (drctl's own clock, from
// when the write returned) before it reads the claims to replay; by then
// no request of the old Region can acknowledge a payment. A contract
// between the service and drctl.
const WriterLease = 3 * time.Second

// WriterRecheck is how old a confirmation may be before a request is
// admitted on it (older: the record is read again). Below WriterLease, so
// that a request rarely needs a second read before it answers.
const WriterRecheck = time.Second

// ErrNotWriter: the journal's writer record names another Region. The
// request was refused before anything was written; retryable (in the
// writer's Region).
var ErrNotWriter = errors.New("this Region is not the journal's writer")

// NotWriterError says which Region is the writer.
type NotWriterError struct{ Writer WriterRecord }

func (e *NotWriterError) Error() string {
	return fmt.Sprintf("%v: %s is, at epoch %d", ErrNotWriter, e.Writer.Region, e.Writer.Epoch)
}

// Unwrap makes errors.Is(err, ErrNotWriter) hold.
func (e *NotWriterError) Unwrap() error { return ErrNotWriter }

// confirmation is one read of the writer record.
type confirmation struct {
	started time.Time // before the read was sent (the service's clock: monotonic in production)
	seq     uint64    // the gate's count of reads started, this one included
	rec     WriterRecord
	found   bool
}

func (c confirmation) writerIs(region string) bool { return c.found && c.rec.Region == region }

// writerGate caches the latest confirmation; reads are shared by the
// requests that need one at the same time.
type writerGate struct {
	mu      sync.Mutex
	latest  confirmation
	reading chan struct{} // closed when the read in flight ends
	reads   uint64        // reads started
}

func (g *writerGate) cached() confirmation {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.latest
}

// confirm returns a confirmation that started less than maxAge ago,
// reading the record when the cached one is older. A record missing is
// written for this Region at epoch 1 if its database is writable (a new
// deployment's first writer; a move writes it otherwise).
func (s *Service) confirm(ctx context.Context, maxAge time.Duration) (confirmation, error) {
	return s.confirmIf(ctx, func(c confirmation) bool { return s.now().Sub(c.started) < maxAge })
}

// confirmHere is the confirmation admit and Health use: a cached one
// younger than WriterRecheck while it names this Region; otherwise one
// that started after the call, so a Region a move just made the writer
// takes payments (and turns healthy) at once rather than up to
// WriterRecheck later. A burst of such calls shares at most two reads.
func (s *Service) confirmHere(ctx context.Context) (confirmation, error) {
	if s.writer.cached().writerIs(s.Region) {
		return s.confirm(ctx, WriterRecheck)
	}
	s.writer.mu.Lock()
	before := s.writer.reads
	s.writer.mu.Unlock()
	return s.confirmIf(ctx, func(c confirmation) bool { return c.seq > before })
}

// confirmIf returns the cached confirmation if fresh accepts it, else
// reads the record (sharing a read in flight).
func (s *Service) confirmIf(ctx context.Context, fresh func(confirmation) bool) (confirmation, error) {
	for {
		g := &s.writer
		g.mu.Lock()
		if !g.latest.started.IsZero() && fresh(g.latest) {
			c := g.latest
			g.mu.Unlock()
			return c, nil
		}
		if wait := g.reading; wait != nil {
			g.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return confirmation{}, fmt.Errorf("%w: waiting for the journal's writer record: %v", ErrUnavailable, ctx.Err())
			}
			continue // fresh now, or that read failed (perhaps for its own context): read here
		}
		done := make(chan struct{})
		g.reading = done
		g.reads++
		seq := g.reads
		g.mu.Unlock()
		c, err := s.readWriter(ctx)
		c.seq = seq
		g.mu.Lock()
		if err == nil && c.seq > g.latest.seq {
			g.latest = c
		}
		g.reading = nil
		close(done)
		g.mu.Unlock()
		return c, err
	}
}

func (s *Service) readWriter(ctx context.Context) (confirmation, error) {
	c := confirmation{started: s.now()}
	rec, found, err := s.Journal.Writer(ctx)
	if err != nil {
		return confirmation{}, err
	}
	s.majority.saw(s.now())
	c.rec, c.found = rec, found
	if found {
		return c, nil
	}
	w, werr := s.Store.Writable(ctx)
	if werr != nil || !w {
		return c, nil // not this Region's to record: admit decides
	}
	rec, err = s.Journal.BootstrapWriter(ctx, s.Region)
	if err != nil {
		return confirmation{}, err
	}
	c.rec, c.found = rec, true
	return c, nil
}

// admit lets a payment request claim a key only in the writer's Region:
// it returns the epoch the request is admitted under.
func (s *Service) admit(ctx context.Context) (WriterRecord, error) {
	if err := s.clockOK(ctx); err != nil {
		return WriterRecord{}, err
	}
	c, err := s.confirmHere(ctx)
	switch {
	case err != nil:
		return WriterRecord{}, err
	case !c.found:
		return WriterRecord{}, fmt.Errorf("%w: no writer is recorded in the journal and this Region's database does not take writes", ErrReadOnly)
	case c.rec.Region != s.Region:
		return WriterRecord{}, &NotWriterError{Writer: c.rec}
	}
	return c.rec, nil
}

// stillWriter is checked after a payment committed, before it is
// answered: the writer record must still name this Region at epoch, as a
// read started less than WriterLease ago shows. Otherwise a move has
// begun and its replay may have read the claims already: the payment is
// in this Region's database, which the move left behind, and the answer
// is "outcome unknown".
func (s *Service) stillWriter(ctx context.Context, admitted WriterRecord) error {
	c, err := s.confirm(ctx, WriterLease)
	switch {
	case err != nil:
		return fmt.Errorf("%w: the payment committed here, and whether this Region is still the writer could not be read: %v", ErrOutcomeUnknown, err)
	case !c.writerIs(s.Region) || c.rec.Epoch != admitted.Epoch:
		return fmt.Errorf("%w: the payment committed here, but the writer moved (epoch %d in %s, now %d in %s) before it could be answered",
			ErrOutcomeUnknown, admitted.Epoch, s.Region, c.rec.Epoch, orDash(c.rec.Region))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
