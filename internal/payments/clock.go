package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MaxClockSkew is how far this service's clock may be from its database's
// before it refuses payments. A failover's replay window mixes two
// clocks: its start and the claims' times are the old writer's, its end
// (ReplaySlack after now) the new writer's. An old writer whose clock ran
// ahead by more than ReplaySlack stamps its last claims after the end of
// the window that would replay them. Each Region therefore keeps its
// clock within MaxClockSkew of its database's (Aurora's and Lambda's
// clocks both follow Amazon Time Sync), and ReplaySlack covers two such
// skews with room to spare.
const MaxClockSkew = time.Second

// ClockRecheck is how old a measurement of the skew may be before a
// payment measures again (the writer mark loop measures every
// WriterMarkEvery while it runs; a frozen Lambda environment's loop does
// not).
const ClockRecheck = 30 * time.Second

// ErrClockSkew: this Region's clock is too far from its database's; the
// request was not applied.
var ErrClockSkew = errors.New("clock skew")

// clockGate keeps the last measured skew.
type clockGate struct {
	mu       sync.Mutex
	measured time.Time // on the service's clock; zero before the first
	skew     time.Duration
	err      error
}

// measureClock reads the database's clock between two readings of the
// service's and records how far apart they are, less the round trip's
// uncertainty.
func (s *Service) measureClock(ctx context.Context) error {
	before := s.now()
	db, err := s.Store.Clock(ctx)
	after := s.now()
	if err != nil {
		return err
	}
	mid := before.Add(after.Sub(before) / 2)
	skew := mid.Sub(db)
	excess := skew.Abs() - after.Sub(before)/2
	var skewErr error
	if excess > MaxClockSkew {
		skewErr = fmt.Errorf("%w: this Region's clock is %s from its database's (at most %s): it takes no payment until its clock is corrected",
			ErrClockSkew, skew.Round(time.Millisecond), MaxClockSkew)
	}
	s.clock.mu.Lock()
	s.clock.measured, s.clock.skew, s.clock.err = after, skew, skewErr
	s.clock.mu.Unlock()
	return nil
}

// clockOK answers the last measurement, measuring first when there is
// none younger than ClockRecheck.
func (s *Service) clockOK(ctx context.Context) error {
	s.clock.mu.Lock()
	measured, err := s.clock.measured, s.clock.err
	s.clock.mu.Unlock()
	if age := s.now().Sub(measured); measured.IsZero() || age < 0 || age > ClockRecheck {
		if merr := s.measureClock(ctx); merr != nil {
			return fmt.Errorf("%w: reading the database's clock: %v", ErrUnavailable, merr)
		}
		s.clock.mu.Lock()
		err = s.clock.err
		s.clock.mu.Unlock()
	}
	return err
}

// ClockSkew is the last measured skew of this service's clock from its
// database's, and whether one was measured.
func (s *Service) ClockSkew() (time.Duration, bool) {
	s.clock.mu.Lock()
	defer s.clock.mu.Unlock()
	return s.clock.skew, !s.clock.measured.IsZero()
}
