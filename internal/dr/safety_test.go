package dr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// markDone records the named steps of run as done, as a run interrupted
// after them would have.
func markDone(run *runlog.Run, names ...string) {
	at := time.Now().Add(-time.Minute)
	for _, n := range names {
		s := run.Step(n)
		s.Started, s.Ended, s.Attempts = at, at.Add(time.Second), 1
	}
}

// Update-parameters wrote active-region=us-west-2 while the
// writer was in us-east-1.
func TestUpdateParametersRefusesWhenTheWriterIsNotTheTarget(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	run := newRun(t, "switchover", "us-west-2")
	markDone(run, "preflight", "switch-writer", "wait-topology", "verify-writes")
	err := plan.Execute(context.Background(), c.Switchover("us-west-2"), run, nil, log)
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "update-parameters" || !strings.Contains(err.Error(), "writer is in us-east-1") {
		t.Fatalf("got %v", err)
	}
	if got := w.Params["us-east-1"]["/payment/dev/dr/active-region"]; got != "us-east-1" || w.Called("PutParameter") != 0 {
		t.Errorf("parameters written: %q, %d puts", got, w.Called("PutParameter"))
	}
}

// A cancelled switchover was polled for 15 minutes and a
// resumed run counted the request as done.
func TestCancelledMoveFailsAndReopensTheRequest(t *testing.T) {
	w := drfake.NewWorld()
	w.CancelMoves = 1
	c, log := controller(w)
	run := newRun(t, "switchover", "us-west-2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := plan.Execute(ctx, c.Switchover("us-west-2"), run, nil, log)
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "wait-topology" || !strings.Contains(err.Error(), "cancelled") || ctx.Err() != nil {
		t.Fatalf("got %v (context %v)", err, ctx.Err())
	}
	if run.Step("switch-writer").Done() {
		t.Fatal("the cancelled request is still recorded as done")
	}
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), run, nil, log); err != nil {
		t.Fatalf("resume: %v\n%s", err, log)
	}
	if w.Writer != "us-west-2" || w.Called("SwitchoverGlobalCluster") != 2 {
		t.Errorf("writer %s after %d switchovers", w.Writer, w.Called("SwitchoverGlobalCluster"))
	}
}

// Writes acknowledged by the old Region after the failover
// request were neither read back nor counted as lost.
func TestSplitBrainWritesAfterTheRequestAreCountedLost(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"], w.AckDown = true, true
	w.FenceErr = errors.New("lambda us-east-1: connection refused")
	w.MovePolls = 40
	c, log := controller(w)
	run := newRun(t, "drill", "us-west-2")
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Failover("us-west-2", true), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	r := res.Result
	acked, after := 0, 0
	for _, s := range res.Samples {
		if s.OK && s.Region == "us-east-1" {
			acked++
			if s.End.After(r.FailoverAt) {
				after++
			}
		}
	}
	if after == 0 {
		t.Fatalf("the test did not produce a split brain (%d acknowledged by us-east-1)", acked)
	}
	if len(r.Lost) != acked {
		t.Errorf("lost %d, want every one of the %d writes us-east-1 acknowledged (%d after the request)", len(r.Lost), acked, after)
	}
}

// Read-back stopped at the first error and the verdict was
// given anyway.
func TestReadBackErrorMakesTheRPOUnknown(t *testing.T) {
	w := drfake.NewWorld()
	w.Unread["p0002"] = true
	c, log := controller(w)
	run := newRun(t, "drill", "us-west-2")
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Switchover("us-west-2"), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err == nil || !strings.Contains(err.Error(), "p0002") {
		t.Errorf("drill error %v\n%s", err, log)
	}
	if res.Result.RPOUnknown == "" || !strings.Contains(res.Result.RPOUnknown, "p0002") {
		t.Errorf("RPO not unknown: %+v", res.Result)
	}
	if res.Result.ReadBack < 3 {
		t.Errorf("read-back stopped at the first error: %d read", res.Result.ReadBack)
	}
}

// A failed resume check sent the step again.
func TestFailedResumeCheckStopsInsteadOfResending(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"] = true
	w.MovePolls = 1000
	c, log := controller(w)
	run := newRun(t, "failover", "us-west-2")
	markDone(run, "preflight", "record-lag", "fence-writes")
	if err := w.Failover(context.Background(), "us-west-2", true); err != nil { // sent by the interrupted run
		t.Fatal(err)
	}
	run.Step("promote").Started = time.Now()
	w.GCErr = 1
	err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log)
	if err == nil || !strings.Contains(err.Error(), "could not check") {
		t.Errorf("got %v", err)
	}
	if n := w.Called("FailoverGlobalCluster"); n != 1 {
		t.Errorf("FailoverGlobalCluster sent %d times", n)
	}
}

// An unplanned failover stops the old Region's writes before
// promoting, then confirms the old primary is fenced and keeps its data.
func TestUnplannedFailoverFencesAndKeepsTheOldPrimarysData(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"], w.AckDown = true, true // the Region's service still answers
	c, log := controller(w)
	run := newRun(t, "failover", "us-west-2")
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	calls := strings.Join(w.Calls(), "\n")
	fence, promote := strings.Index(calls, "FenceWrites us-east-1"), strings.Index(calls, "FailoverGlobalCluster us-west-2")
	if fence < 0 || promote < 0 || fence > promote {
		t.Errorf("fence at %d, promote at %d:\n%s", fence, promote, calls)
	}
	if !run.Step("confirm-fenced").Done() {
		t.Errorf("old primary not confirmed fenced: %+v", run.Steps)
	}
	// us-east-1's RDS is down: the data is kept once it is back (reconcile).
	if !strings.Contains(run.Values["oldPrimaryData"], "pending") {
		t.Errorf("old primary data %q", run.Values["oldPrimaryData"])
	}
	w.Down["us-east-1"] = false
	run2 := newRun(t, "failover", "us-east-1")
	if err := plan.Execute(context.Background(), c.Failover("us-east-1", true), run2, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if len(w.Kept) != 1 || run2.Values["oldPrimaryData"] != w.Kept[0] {
		t.Errorf("kept %v, recorded %q", w.Kept, run2.Values["oldPrimaryData"])
	}
}

// Engine versions, synchronization and a missing lag metric.
func TestPreflightAndEvaluateCheckEngineSyncAndMissingLag(t *testing.T) {
	cases := []struct {
		name  string
		setup func(w *drfake.World)
		want  string
	}{
		{"engine", func(w *drfake.World) { w.Engine["us-west-2"] = "8.0.mysql_aurora.3.04.1" }, "engine version"},
		{"sync", func(w *drfake.World) { w.Sync["us-west-2"] = "pending-resync" }, "pending-resync"},
		{"lag", func(w *drfake.World) { w.LagErr = errors.New("no AuroraGlobalDBRPOLag datapoints") }, "no AuroraGlobalDBRPOLag datapoints"},
	}
	for _, tc := range cases {
		w := drfake.NewWorld()
		tc.setup(w)
		c, log := controller(w)
		err := plan.Execute(context.Background(), c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log)
		if err == nil || !strings.Contains(err.Error(), tc.want) || w.Called("SwitchoverGlobalCluster") != 0 {
			t.Errorf("%s: switchover %v", tc.name, err)
		}
		var found bool
		for _, f := range c.Evaluate(context.Background()) {
			found = found || strings.Contains(f.Problem, tc.want)
		}
		if !found {
			t.Errorf("%s: evaluate has no finding %q: %v", tc.name, tc.want, c.Evaluate(context.Background()))
		}
	}
}

// Failover without --allow-data-loss is a switchover and gets
// the switchover's preflight.
func TestFailoverWithoutDataLossHasTheSwitchoverPreflight(t *testing.T) {
	w := drfake.NewWorld()
	w.Lag["us-west-2"] = 5 * time.Minute
	c, log := controller(w)
	run := newRun(t, "failover", "us-west-2")
	err := plan.Execute(context.Background(), c.Failover("us-west-2", false), run, nil, log)
	if err == nil || !strings.Contains(err.Error(), "over the 60s budget") || w.Called("FailoverGlobalCluster") != 0 {
		t.Errorf("got %v", err)
	}
}

// The run's deadline is not blamed on the step.
func TestRunDeadlineIsNotReportedAsTheStepTimeout(t *testing.T) {
	w := drfake.NewWorld()
	w.StaleDNS = 1 << 30
	_, _ = w.FailoverHealth(context.Background())
	c, log := controller(w)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := plan.Execute(ctx, c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log)
	if err == nil || strings.Contains(err.Error(), "timed out after 5m") || !strings.Contains(err.Error(), "run's deadline") {
		t.Errorf("got %v", err)
	}
}

// Mutation survivors: verify-writes must fail on a target whose health
// errs or whose table is down, for a switchover and a failover.
func TestVerifyWritesFailsOnAnErringOrTablelessTarget(t *testing.T) {
	for _, kind := range []string{"switchover", "failover"} {
		for _, fault := range []string{"health", "table"} {
			w := drfake.NewWorld()
			if fault == "health" {
				w.HealthErr["us-west-2"] = errors.New("GET /health: 502")
			} else {
				w.TableDown["us-west-2"] = true
			}
			c, log := controller(w)
			run := newRun(t, kind, "us-west-2")
			p := c.Switchover("us-west-2")
			if kind == "failover" {
				p = c.Failover("us-west-2", true)
			}
			// Only verify-writes is cut short: the steps before it keep
			// their own timeouts, so a loaded machine cannot fail them.
			for i := range p.Steps {
				if p.Steps[i].Name == "verify-writes" {
					p.Steps[i].Timeout = 50 * time.Millisecond
				}
			}
			err := plan.Execute(context.Background(), p, run, nil, log)
			var se *plan.StepError
			if !errors.As(err, &se) || se.Step != "verify-writes" {
				t.Errorf("%s with %s fault: %v", kind, fault, err)
			}
		}
	}
}

// Mutation survivors: the failover plan's steps by name, and each step's
// end is on disk before the next step starts.
func TestFailoverPlanStepsAndEachStepIsSavedBeforeTheNext(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	dir := t.TempDir()
	run, err := runlog.Create(dir, runlog.Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Target: "us-west-2", Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Failover("us-west-2", true)
	var names []string
	for i := range p.Steps {
		names = append(names, p.Steps[i].Name)
		if i == 0 {
			continue
		}
		prev, inner := p.Steps[i-1].Name, p.Steps[i].Run
		p.Steps[i].Run = func(ctx context.Context, rec plan.Recorder) error {
			onDisk, err := runlog.ReadOnly(dir, run.ID)
			if err != nil || !onDisk.Step(prev).Done() {
				t.Errorf("before %s: %s not saved as done (%v)", p.Steps[i].Name, prev, err)
			}
			return inner(ctx, rec)
		}
	}
	want := "preflight,record-lag,fence-writes,set-writer-epoch,promote,wait-topology,confirm-fenced,lift-fence,replay-journal,verify-writes,update-parameters,verify-dns,keep-old-data"
	if strings.Join(names, ",") != want {
		t.Errorf("steps %s\nwant  %s", strings.Join(names, ","), want)
	}
	if err := plan.Execute(context.Background(), p, run, nil, log); err != nil {
		t.Fatal(err)
	}
	onDisk, err := runlog.ReadOnly(dir, run.ID)
	if err != nil || !onDisk.Step(p.Steps[len(p.Steps)-1].Name).Done() || !onDisk.Completed {
		t.Errorf("last step not saved: %v", err)
	}
}
