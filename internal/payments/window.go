package payments

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ClaimCommitDeadline bounds the time from a claim to its payment's
// commit by the claiming request: its database transaction runs under a
// deadline this long after the claim's time (a transaction still open
// then is rolled back when the driver closes its connection). A payment
// completed later, by a retry or a replay, is retimed in the journal at
// its commit (Retime).
const ClaimCommitDeadline = 10 * time.Second

// WriterMarkEvery is how often a running service marks its database as
// the writer's (MarkWriter): the mark a new writer holds after a failover
// is at most this much older than the last replicated transaction.
const WriterMarkEvery = 2 * time.Second

// ReplaySlack widens the replay's window at both ends: the clocks of two
// Regions' services (NTP-disciplined; Amazon Time Sync keeps them within
// a millisecond) and a COMMIT that was in flight at ClaimCommitDeadline.
const ReplaySlack = 5 * time.Second

// ReplayBounds is the window a new writer must replay, from what its own
// database holds: every claim the old writer may have committed after
// its last mark that replicated here. The answer of the replayWindow
// invocation and of the local POST /internal/replay-window.
type ReplayBounds struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Mark is the old writer's newest mark in this database.
	Mark time.Time `json:"mark"`
}

// MarkWriter records now as a moment this Region's database took writes
// (a read-only database answers ErrReadOnly: it is not the writer's).
//
// The clock is measured first: a mark from a clock too far from the
// database's would move the next failover's window away from the claims.
func (s *Service) MarkWriter(ctx context.Context) error {
	if err := s.measureClock(ctx); err != nil {
		return err
	}
	if err := s.clockOK(ctx); err != nil {
		return err
	}
	return s.Store.MarkWriter(ctx, s.Region, s.now())
}

// MarkWriterEvery marks every interval until ctx ends.
func (s *Service) MarkWriterEvery(ctx context.Context, interval time.Duration, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		mctx, cancel := context.WithTimeout(ctx, interval)
		if err := s.MarkWriter(mctx); err != nil && !errors.Is(err, ErrReadOnly) && report != nil {
			report(err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReplayWindowAfter is the window this Region, the writer now, replays
// after taking over from old. Transactions replicate in commit order, so
// the old writer's newest mark here (written at mark) was preceded by
// every commit of a claim made before mark − ClaimCommitDeadline: From is
// that, less ReplaySlack. To is this service's clock plus ReplaySlack:
// the old writer's requests have all ended (the move waited out their
// lease), and claims made here meanwhile are present, so replaying them
// costs a read and changes nothing. Neither edge comes from drctl's
// clock.
func (s *Service) ReplayWindowAfter(ctx context.Context, old string) (ReplayBounds, error) {
	if old == "" || old == s.Region {
		return ReplayBounds{}, fmt.Errorf("replay window: the old Region must be another Region than %s (got %q)", s.Region, old)
	}
	if _, err := s.admit(ctx); err != nil {
		return ReplayBounds{}, fmt.Errorf("replay window: %w", err)
	}
	mark, found, err := s.Store.WriterMark(ctx, old)
	if err != nil {
		return ReplayBounds{}, fmt.Errorf("replay window: reading %s's mark: %w", old, err)
	}
	b := ReplayBounds{To: s.now().Add(ReplaySlack)}
	if found {
		b.From, b.Mark = mark.Add(-ClaimCommitDeadline-ReplaySlack), mark
	}
	return b, nil
}

// Known reports whether the window's start is known: false when this
// database holds no mark of the old writer, so nothing tells which of
// its claims it lacks (the caller must choose a start, or replay the
// journal's retention).
func (b ReplayBounds) Known() bool { return !b.Mark.IsZero() }
