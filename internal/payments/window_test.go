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
	calls := 0
	s.Now = func() time.Time {
		calls++
		if calls <= 3 { // admitted and claimed at start
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
