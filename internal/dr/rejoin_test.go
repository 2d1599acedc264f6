package dr_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

func findings(c *dr.Controller) map[string]string {
	got := map[string]string{}
	for _, f := range c.Evaluate(context.Background()) {
		got[f.Check] += f.Problem + "; "
	}
	return got
}

// After a move to the secondary, the secondary (then the writer) fails and
// an unplanned failover goes back to the primary, fencing the secondary's
// payment service where it still answers. A later switchover to the
// secondary lifts that fence before verify-writes, so it completes.
func TestSwitchoverIntoARegionFencedByAnEarlierFailoverCompletes(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	c.Timeout = 10 * time.Second
	ctx := context.Background()
	if err := plan.Execute(ctx, c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log); err != nil {
		t.Fatalf("switchover: %v\n%s", err, log)
	}
	if err := plan.Execute(ctx, c.Failover("us-east-1", true), newRun(t, "failover", "us-east-1"), nil, log); err != nil {
		t.Fatalf("failover to the primary: %v\n%s", err, log)
	}
	if !w.Fenced["us-west-2"] {
		t.Fatal("the failover did not fence us-west-2: the test does not start from a fence")
	}
	st := c.Status(ctx)
	if st.Regions[0].Fence != "open" || st.Regions[1].Fence != "fenced" {
		t.Errorf("status fences %q %q", st.Regions[0].Fence, st.Regions[1].Fence)
	}
	var text strings.Builder
	st.WriteText(&text)
	if !strings.Contains(text.String(), "FENCE") || !strings.Contains(text.String(), "fenced") {
		t.Errorf("status text:\n%s", text.String())
	}
	if got := findings(c)["standby-capacity"]; !strings.Contains(got, "reserved concurrency 0") || !strings.Contains(got, "fix: drctl rejoin --region us-west-2") {
		t.Errorf("evaluate on the fence left on us-west-2: %q", got)
	}
	run := newRun(t, "switchover", "us-west-2")
	if err := plan.Execute(ctx, c.Switchover("us-west-2"), run, nil, log); err != nil {
		t.Fatalf("switchover into the fenced Region: %v\n%s", err, log)
	}
	lift, verify := slices.IndexFunc(run.Steps, func(s runlog.Step) bool { return s.Name == "lift-fence" }), slices.IndexFunc(run.Steps, func(s runlog.Step) bool { return s.Name == "verify-writes" })
	if w.Writer != "us-west-2" || w.Fenced["us-west-2"] || lift < 0 || lift > verify || !run.Step("verify-writes").Done() || run.Values[dr.FenceKey("us-west-2")] != "lifted" {
		t.Errorf("writer %s, fenced %v, steps %v, values %v", w.Writer, w.Fenced, run.Steps, run.Values)
	}
	if got := findings(c); got["standby-capacity"] != "" || got["fence"] != "" {
		t.Errorf("findings after the switchover: %v", got)
	}
}

// The old primary of a failover in progress is meant to be fenced: no
// finding; the writer's own Region fenced is one, with the command.
func TestEvaluateFenceOnlyWhereItIsNotMeant(t *testing.T) {
	w := drfake.NewWorld()
	w.MovePolls = 40
	c, _ := controller(w)
	w.Fenced["us-east-1"] = true
	if err := w.Failover(context.Background(), "us-west-2", true); err != nil {
		t.Fatal(err)
	}
	if got := findings(c); got["fence"] != "" || got["standby-capacity"] != "" {
		t.Errorf("fence of the old primary during the failover reported: %v", got)
	}
	w2 := drfake.NewWorld()
	w2.Fenced["us-east-1"] = true
	c2, _ := controller(w2)
	if got := findings(c2)["fence"]; !strings.Contains(got, "aws lambda delete-function-concurrency --region us-east-1 --function-name payment-processor-us-east-1-dev") {
		t.Errorf("fenced writer: %q", got)
	}
}

// The primary is lost with unreplicated payments, the failover cannot
// fence it (down), and it comes back with its database writable (Aurora's
// fence failed) and its parameters naming itself. Until rejoin it takes
// payments nobody else has; rejoin fences it, waits for Aurora to rejoin
// it as a caught-up replica, repairs its parameters, compares its data
// and lifts the fence last.
func TestRejoinMakesAReturnedOldPrimaryAReadyStandby(t *testing.T) {
	w := drfake.NewWorld()
	w.Replicate = false
	c, log := controller(w)
	c.Timeout = 10 * time.Second
	c.Reconcile = drfake.Reconcile{W: w}
	ctx := context.Background()
	canary := drfake.Canary{W: w}
	for range 3 { // acknowledged by us-east-1, never replicated
		if _, _, err := canary.Write(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	w.Down["us-east-1"] = true
	if err := plan.Execute(ctx, c.Failover("us-west-2", true), newRun(t, "failover", "us-west-2"), nil, log); err != nil {
		t.Fatalf("failover: %v\n%s", err, log)
	}
	w.Replicate = true
	w.Down["us-east-1"], w.OldWritable["us-east-1"] = false, true
	w.Sync["us-east-1"], w.RejoinPolls["us-east-1"] = "pending-resync", 6

	got := findings(c)
	for _, check := range []string{"old-primary-writable", "active-region-parameter", "standby-sync"} {
		if !strings.Contains(got[check], "fix: drctl rejoin --region us-east-1") {
			t.Errorf("%s does not name rejoin: %q", check, got[check])
		}
	}
	// Its database takes writes, but the journal's writer record, moved
	// before the promotion, keeps its service from taking payments.
	if _, region, err := canary.Write(ctx, "k"); err != nil || region != "us-west-2" {
		t.Fatalf("a payment after the old primary returned writable went to %q (%v), want the writer us-west-2", region, err)
	}

	if err := c.CheckRejoin(ctx, "us-west-2"); !errors.Is(err, dr.ErrRejoinWriter) {
		t.Errorf("rejoin of the writer's Region: %v", err)
	}
	run := newRun(t, "rejoin", "us-east-1")
	before := len(w.Calls())
	if err := plan.Execute(ctx, c.Rejoin("us-east-1"), run, nil, log); err != nil {
		t.Fatalf("rejoin: %v\n%s", err, log)
	}
	calls := w.Calls()[before:]
	fence, open, unfence := slices.Index(calls, "FenceWrites us-east-1"), slices.Index(calls, "Reconcile.Open us-east-1"), slices.Index(calls, "UnfenceWrites us-east-1")
	if fence < 0 || open < fence || unfence < open {
		t.Errorf("fence %d, compare %d, unfence %d: not in that order\n%q", fence, open, unfence, calls)
	}
	if w.Fenced["us-east-1"] || w.OldWritable["us-east-1"] || w.Sync["us-east-1"] != "connected" || w.Params["us-east-1"]["/payment/dev/dr/active-region"] != "us-west-2" {
		t.Errorf("after rejoin: fenced %v writable %v sync %q params %v", w.Fenced, w.OldWritable, w.Sync["us-east-1"], w.Params["us-east-1"])
	}
	if run.Values[dr.FenceKey("us-east-1")] != "lifted" || !strings.HasPrefix(run.Values[dr.OldPrimaryOnlyKey], "3 of 4 payments not in the writer") || run.Values[dr.OldPrimaryDataKey] == "" {
		t.Errorf("journal values %v", run.Values)
	}
	for range 5 {
		if _, region, err := canary.Write(ctx, "k"); err != nil || region != "us-west-2" {
			t.Errorf("after rejoin a payment was answered by %q (%v)", region, err)
		}
	}
	if got := findings(c); len(got) != 0 {
		t.Errorf("findings after rejoin: %v", got)
	}
}

// wait-topology of a switchover waits for every member to be in sync, not
// only for the writer to move: the old writer still pending-resync after
// the move keeps it waiting.
// A switchover lets the new writer take traffic once it holds the writer
// (wait-topology does not wait for the old writer's resync, which over a
// slow link takes many round trips) and ends only with the old writer
// replicating in sync.
func TestASwitchoverEndsWithTheOldWriterInSync(t *testing.T) {
	w := drfake.NewWorld()
	w.ResyncAfterMove = 5
	c, log := controller(w)
	c.Timeout = 10 * time.Second
	p := c.Switchover("us-west-2")
	seen := map[string]string{}
	for i := range p.Steps {
		name, inner := p.Steps[i].Name, p.Steps[i].Run
		p.Steps[i].Run = func(ctx context.Context, rec plan.Recorder) error {
			err := inner(ctx, rec)
			seen[name] = w.Sync["us-east-1"]
			return err
		}
	}
	if err := plan.Execute(context.Background(), p, newRun(t, "switchover", "us-west-2"), nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if seen["wait-topology"] == "connected" || seen["wait-standby-sync"] != "connected" {
		t.Errorf("the old writer after wait-topology %q, after wait-standby-sync %q; want it still resyncing, then connected",
			seen["wait-topology"], seen["wait-standby-sync"])
	}
}

// A returned old primary that is a replica again but still
// pending-resync (its lag metric already low) is not caught up: rejoin
// lifts its fence only once Aurora reports it connected.
func TestRejoinLiftsTheFenceOnlyOnceTheRegionIsInSync(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	c.Timeout = 10 * time.Second
	c.Reconcile = drfake.Reconcile{W: w}
	ctx := context.Background()
	w.Down["us-east-1"] = true
	if err := plan.Execute(ctx, c.Failover("us-west-2", true), newRun(t, "failover", "us-west-2"), nil, log); err != nil {
		t.Fatalf("failover: %v\n%s", err, log)
	}
	w.Down["us-east-1"] = false
	w.Lag["us-east-1"] = 0
	w.Sync["us-east-1"], w.RejoinPolls["us-east-1"] = "pending-resync", 25
	if err := plan.Execute(ctx, c.Rejoin("us-east-1"), newRun(t, "rejoin", "us-east-1"), nil, log); err != nil {
		t.Fatalf("rejoin: %v\n%s", err, log)
	}
	if w.Sync["us-east-1"] != "connected" {
		t.Errorf("rejoin lifted the fence of us-east-1 while it was %s", w.Sync["us-east-1"])
	}
}

// A rejoin interrupted before its fence and resumed after a failback made
// its Region the writer again must not fence it: the resume is refused,
// and the fence step itself re-checks the database's writer and the
// journal's writer record.
func TestAResumedRejoinNeverFencesTheWriter(t *testing.T) {
	w := drfake.NewWorld()
	w.Writer = "us-west-2"
	w.Epoch = dr.WriterEpoch{Region: "us-west-2", Epoch: 2}
	c, log := controller(w)
	c.Timeout = 5 * time.Second
	ctx := context.Background()
	p := c.Rejoin("us-east-1")
	run := newRun(t, "rejoin", "us-east-1")
	// Interrupted after its preflight; then a failback to us-east-1.
	run.Step("preflight").Started, run.Step("preflight").Ended = time.Now(), time.Now()
	w.Writer = "us-east-1"
	w.Epoch = dr.WriterEpoch{Region: "us-east-1", Epoch: 3}
	if err := c.CheckResume(ctx, p, run); !errors.Is(err, dr.ErrRejoinWriter) {
		t.Errorf("resume after a failback: %v, want refused", err)
	}
	// The database's writer back in us-west-2 but the journal still naming
	// us-east-1 (a move half done): the fence step refuses too.
	w.Writer = "us-west-2"
	err := plan.Execute(ctx, p, run, nil, log)
	if !errors.Is(err, dr.ErrRejoinWriter) || w.Fenced["us-east-1"] {
		t.Errorf("rejoin fencing the journal's writer: %v, fenced %v", err, w.Fenced["us-east-1"])
	}
}
