package dr_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// replayClock records when the replay was first called.
type replayClock struct {
	*drfake.World
	first time.Time
}

func (r *replayClock) ReplayJournal(ctx context.Context, region string, from, to time.Time) (payments.ReplayResult, error) {
	if r.first.IsZero() {
		r.first = time.Now()
	}
	return r.World.ReplayJournal(ctx, region, from, to)
}

// An unplanned failover names the new writer in the journal before it
// promotes (a journal that fails once is retried), and reads the claims
// to replay only once every confirmation the old writer's service could
// act on has expired.
func TestFailoverMovesTheWriterRecordBeforeThePromotionAndWaitsOutTheLease(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal, w.EpochErr = true, 1
	w.Epoch = dr.WriterEpoch{Region: "us-east-1", Epoch: 4}
	cloud := &replayClock{World: w}
	c, log := controller(w)
	c.Cloud = cloud
	c.Timeout = 10 * time.Second
	w.Down["us-east-1"] = true
	run := newRun(t, "failover", "us-west-2")
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("failover: %v\n%s", err, log)
	}
	if w.Epoch.Region != "us-west-2" || w.Epoch.Epoch != 5 {
		t.Errorf("writer record %+v, want us-west-2 at epoch 5", w.Epoch)
	}
	calls := w.Calls()
	set, promote, replay := slices.Index(calls, "SetJournalWriter us-west-2"), slices.Index(calls, "FailoverGlobalCluster us-west-2"), slices.Index(calls, "ReplayJournal us-west-2")
	if set < 0 || promote < set || replay < promote {
		t.Errorf("set-writer %d, promote %d, replay %d: not in that order\n%q", set, promote, replay, calls)
	}
	if waited := cloud.first.Sub(w.Epoch.SetAt); waited < payments.WriterLease {
		t.Errorf("the replay read the claims %s after the writer record moved, within the old writer's lease (%s)", waited, payments.WriterLease)
	}
	if run.Values[dr.WriterEpochKey] != "us-west-2 5" || run.Values[dr.LeaseWaitKey] == "" {
		t.Errorf("run values %v", run.Values)
	}
}

// A switchover names the new writer once it holds the database: the old
// Region's service stops taking payments even if its database were
// writable.
func TestSwitchoverMovesTheWriterRecord(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log); err != nil {
		t.Fatalf("switchover: %v\n%s", err, log)
	}
	if w.Epoch.Region != "us-west-2" || w.Epoch.Epoch != 1 {
		t.Errorf("writer record %+v, want us-west-2 at epoch 1", w.Epoch)
	}
	w.OldWritable["us-east-1"] = true
	if _, region, err := (drfake.Canary{W: w}).Write(context.Background(), "k"); err != nil || region != "us-west-2" {
		t.Errorf("payment answered by %q (%v), want the writer us-west-2", region, err)
	}
}

// drctl stopped after the writer record moved but before it recorded
// when: the resumed run finds set-writer-epoch in effect, and its replay
// still waits out a whole lease before it reads the claims.
func TestAResumedFailoverWithoutTheEpochsTimeWaitsAWholeLease(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal = true
	w.Down["us-east-1"] = true
	w.Epoch = dr.WriterEpoch{Region: "us-west-2", Epoch: 2} // moved; the run never recorded it
	cloud := &replayClock{World: w}
	c, log := controller(w)
	c.Cloud = cloud
	c.Timeout = 10 * time.Second
	run := newRun(t, "failover", "us-west-2")
	for _, name := range []string{"preflight", "record-lag", "fence-writes", "set-writer-epoch"} {
		s := run.Step(name)
		s.Started, s.Attempts = time.Now(), 1 // interrupted in the middle
	}
	start := time.Now()
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("resumed failover: %v\n%s", err, log)
	}
	if waited := cloud.first.Sub(start); waited < payments.WriterLease {
		t.Errorf("the resumed replay read the claims %s after the resume, within a lease (%s)", waited, payments.WriterLease)
	}
	if n := w.Called("SetJournalWriter"); n != 0 {
		t.Errorf("the record was moved again (%d calls)", n)
	}
}
