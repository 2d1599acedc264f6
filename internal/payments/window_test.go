package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// The new writer's window starts at the old writer's newest mark in its
// own database, less the longest a claim takes to commit, and ends on its
// own clock; a database without a mark says the start is unknown.
func TestReplayWindowStartsAtTheOldWritersMarkHere(t *testing.T) {
	s, st, _ := newService()
	s.Journal = &claimCounter{writer: payments.WriterRecord{Region: "us-west-2", Epoch: 2}}
	ctx := context.Background()
	if b, err := s.ReplayWindowAfter(ctx, "us-east-1"); err != nil || b.Known() {
		t.Fatalf("without a mark: %+v %v, want an unknown start", b, err)
	}
	mark := time.Date(2026, 11, 25, 3, 40, 0, 0, time.UTC)
	if err := st.MarkWriter(ctx, "us-east-1", mark); err != nil {
		t.Fatal(err)
	}
	b, err := s.ReplayWindowAfter(ctx, "us-east-1")
	if err != nil || !b.Known() || !b.From.Equal(mark.Add(-payments.ClaimCommitDeadline-payments.ReplaySlack)) || !b.To.Equal(s.Now().Add(payments.ReplaySlack)) {
		t.Errorf("window %+v %v", b, err)
	}
	if _, err := s.ReplayWindowAfter(ctx, "us-west-2"); err == nil {
		t.Error("a window after the Region itself was answered")
	}
	other, _, _ := newService()
	other.Journal = &claimCounter{writer: payments.WriterRecord{Region: "us-east-1", Epoch: 3}}
	if _, err := other.ReplayWindowAfter(ctx, "us-east-1"); !errors.Is(err, payments.ErrNotWriter) {
		t.Errorf("window asked of a Region that is not the writer: %v", err)
	}
}

// slowStore holds Create until its context ends: a transaction stuck in
// a lock wait.
type slowStore struct{ payments.Store }

func (slowStore) Create(ctx context.Context, _ payments.Payment, _ string) (payments.Stored, error) {
	<-ctx.Done()
	return payments.Stored{}, errors.Join(payments.ErrUnavailable, ctx.Err())
}

// A claiming request's transaction may not outlive ClaimCommitDeadline
// from its claim: a replay window starting at a mark less that deadline
// must hold every claim the old writer could still commit.
func TestAClaimsCommitEndsAtTheCommitDeadline(t *testing.T) {
	s, st, _ := newService()
	j := &claimCounter{writer: payments.WriterRecord{Region: "us-west-2", Epoch: 1}}
	s.Journal, s.Store = j, slowStore{st}
	start := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return start }
	s.Now = func() time.Time {
		if j.claims == 0 { // admitted and claimed at start
			return start
		}
		return start.Add(payments.ClaimCommitDeadline - 50*time.Millisecond)
	}
	began := time.Now()
	_, _, err := s.Create(context.Background(), good)
	if took := time.Since(began); err == nil || took > 5*time.Second {
		t.Fatalf("create with a stuck transaction: %v after %s, want a failure once the deadline passed", err, took)
	}
	if j.aborts != 1 {
		t.Errorf("%d aborts: the claim of a payment that certainly did not commit must be aborted", j.aborts)
	}
}

// A payment committed by a retry long after its claim is retimed in the
// journal at its commit: a later failover's window, which starts at a
// mark less ClaimCommitDeadline, would not find it by its claim's time.
func TestALateCompletionIsRetimedAtItsCommit(t *testing.T) {
	s, _, _ := newService()
	j := &claimCounter{writer: payments.WriterRecord{Region: "us-west-2", Epoch: 1}}
	s.Journal = j
	now := s.Now()
	claimed := payments.Payment{ID: payments.NewID(), IdempotencyKey: "late", Amount: 500, Currency: "JPY", MerchantRef: "m", CustomerRef: "c",
		SessionID: "s", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: now.Add(-time.Minute)}
	if _, inserted, err := s.Complete(context.Background(), claimed, "h"); err != nil || !inserted {
		t.Fatalf("complete: %v %v", inserted, err)
	}
	fresh := claimed
	fresh.ID, fresh.IdempotencyKey, fresh.CreatedAt = payments.NewID(), "fresh", now.Add(-time.Second)
	if _, _, err := s.Complete(context.Background(), fresh, "h"); err != nil {
		t.Fatal(err)
	}
	if len(j.retimed) != 1 || j.retimed[0].key != "late" || !j.retimed[0].at.Equal(now) {
		t.Errorf("retimed %+v, want only the late completion, at its commit %s", j.retimed, now)
	}
}

// A new deployment's first writer records itself: the Region whose
// database takes writes, at epoch 1; a Region whose database is read-only
// records nothing and refuses.
func TestTheFirstWriterRecordsItself(t *testing.T) {
	s, st, _ := newService()
	j := &claimCounter{}
	s.Journal = j
	st.ReadOnly = true
	if _, _, err := s.Create(context.Background(), good); !errors.Is(err, payments.ErrReadOnly) || j.writer.Region != "" || j.claims != 0 {
		t.Fatalf("read-only Region without a record: %v, record %+v, %d claims", err, j.writer, j.claims)
	}
	w, _, _ := newService()
	w.Journal = j
	if _, _, err := w.Create(context.Background(), good); err != nil || j.writer != (payments.WriterRecord{Region: "us-west-2", Epoch: 1}) {
		t.Errorf("writable Region without a record: %v, record %+v", err, j.writer)
	}
}

// An old writer whose clock runs ahead stamps its last claims after the
// end of the window a correctly clocked new writer replays (ReplaySlack
// after its now): it must take no payment, and write no mark, rather than
// claim one that replay cannot see.
func TestAServiceWhoseClockRunsAheadClaimsNothingAReplayWouldMiss(t *testing.T) {
	ctx := context.Background()
	dbNow := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	old, st, _ := newService()
	st.Now = func() time.Time { return dbNow }
	old.Now = func() time.Time { return dbNow.Add(30 * time.Second) }
	j := &claimCounter{writer: payments.WriterRecord{Region: "us-west-2", Epoch: 1}}
	old.Journal = j
	p, _, err := old.Create(ctx, good)
	if end := dbNow.Add(payments.ReplaySlack); err == nil && p.CreatedAt.After(end) {
		t.Fatalf("acknowledged a payment claimed at %s, after the end %s of the window a failover now would replay", p.CreatedAt, end)
	}
	if !errors.Is(err, payments.ErrClockSkew) || j.claims != 0 {
		t.Fatalf("payment from a clock 30 s ahead: %v, %d claims; want ErrClockSkew and none", err, j.claims)
	}
	if err := old.MarkWriter(ctx); !errors.Is(err, payments.ErrClockSkew) {
		t.Errorf("mark from a clock 30 s ahead: %v, want ErrClockSkew", err)
	}
	if _, found, _ := st.WriterMark(ctx, "us-west-2"); found {
		t.Error("a mark from a clock 30 s ahead was written")
	}
	if h := old.Health(ctx); h.Healthy() || h.ClockError != "skewed" || h.ClockSkewMs != 30_000 {
		t.Errorf("health with a clock 30 s ahead: %+v", h)
	}
	old.Now = func() time.Time { return dbNow.Add(MaxClockSkewWithin) }
	if _, _, err := old.Create(ctx, good); err != nil {
		t.Errorf("payment once the clock is corrected: %v", err)
	}
}

// MaxClockSkewWithin is a skew the service accepts.
const MaxClockSkewWithin = payments.MaxClockSkew / 2

// A Region whose cached writer record names another Region reads it again
// on the next request: the Region a move just made the writer takes
// payments at once, not WriterRecheck later (the test's clock stands
// still, so the cached read is as young as can be).
func TestANewWriterAdmitsAtOnceAfterTheMove(t *testing.T) {
	s, _, _ := newService()
	j := &claimCounter{writer: payments.WriterRecord{Region: "us-east-1", Epoch: 1}}
	s.Journal = j
	ctx := context.Background()
	if _, _, err := s.Create(ctx, good); !errors.Is(err, payments.ErrNotWriter) {
		t.Fatalf("before the move: %v, want ErrNotWriter", err)
	}
	j.mu.Lock()
	j.writer = payments.WriterRecord{Region: "us-west-2", Epoch: 2}
	j.mu.Unlock()
	if _, _, err := s.Create(ctx, good); err != nil {
		t.Fatalf("right after the move: %v", err)
	}
	reads := j.writerReads
	for range 3 {
		if _, _, err := s.Create(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	if j.writerReads != reads {
		t.Errorf("the writer read the record %d more times within WriterRecheck", j.writerReads-reads)
	}
}
