package dr_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

func testCfg() config.Config {
	c := config.Default()
	c.Environment, c.DomainName, c.AlarmEmail = "dev", "example.com", "a@example.com"
	return c
}

func controller(w *drfake.World) (*dr.Controller, *bytes.Buffer) {
	log := &bytes.Buffer{}
	return &dr.Controller{Cfg: testCfg(), Cloud: w, Poll: time.Millisecond, Log: log}, log
}

func newRun(t *testing.T, kind, target string) *runlog.Run {
	t.Helper()
	run, err := runlog.Create(t.TempDir(), runlog.Run{ID: runlog.NewID(kind, target, time.Now()), Kind: kind, Target: target, Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestCleanSwitchover(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	run := newRun(t, "switchover", "us-west-2")
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), run, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if w.Writer != "us-west-2" || w.Called("SwitchoverGlobalCluster us-west-2") != 1 || w.Called("FailoverGlobalCluster") != 0 {
		t.Errorf("writer %s, calls %v", w.Writer, w.Calls())
	}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		if w.Params[r]["/payment/dev/dr/active-region"] != "us-west-2" || !strings.Contains(w.Params[r]["/payment/dev/dr/writer-endpoint"], "us-west-2") {
			t.Errorf("%s parameters %v", r, w.Params[r])
		}
	}
	for _, s := range run.Steps {
		if !s.Done() || s.Attempts != 1 {
			t.Errorf("step %+v", s)
		}
	}
	if len(run.Steps) != 9 || run.Steps[8].Name != "wait-standby-sync" {
		t.Errorf("%d steps, the last %s", len(run.Steps), run.Steps[len(run.Steps)-1].Name)
	}
	// Running it again finds nothing to do: every step is done.
	before := len(w.Calls())
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), run, nil, log); err != nil || len(w.Calls()) != before {
		t.Errorf("re-run of a finished journal called AWS: %v %v", err, w.Calls()[before:])
	}
}

func TestSwitchoverRefusesWhenNothingToDoOrOverBudget(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	err := plan.Execute(context.Background(), c.Switchover("us-east-1"), newRun(t, "switchover", "us-east-1"), nil, log)
	if !errors.Is(err, dr.ErrNothingToDo) {
		t.Errorf("switchover to the writer: %v", err)
	}
	w.Lag["us-west-2"] = 5 * time.Minute
	err = plan.Execute(context.Background(), c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log)
	if err == nil || !strings.Contains(err.Error(), "over the 60s budget") || w.Called("SwitchoverGlobalCluster") != 0 {
		t.Errorf("lag over budget: %v", err)
	}
	if err := c.CheckRegion("eu-west-1"); err == nil || err.Error() != `--to "eu-west-1" is not a Region of dev (us-east-1 or us-west-2)` {
		t.Errorf("unknown Region: %v", err)
	}
	if err := c.CheckRegion("us-west-2"); err != nil {
		t.Errorf("the secondary Region refused: %v", err)
	}
}

func TestFailoverWithLagRecordsItAndToleratesTheLostRegion(t *testing.T) {
	w := drfake.NewWorld()
	w.Lag["us-west-2"] = 2300 * time.Millisecond
	w.Down["us-east-1"] = true
	c, log := controller(w)
	run := newRun(t, "failover", "us-west-2")
	// A switchover cannot work with the writer's Region down...
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log); err == nil {
		t.Fatal("switchover with the writer's Region down succeeded")
	}
	// ...a failover with data loss allowed does.
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if w.Writer != "us-west-2" || len(w.AllowLoss) != 1 || !w.AllowLoss[0] {
		t.Errorf("writer %s allowLoss %v", w.Writer, w.AllowLoss)
	}
	if run.Values["lagAtFailoverMs"] != "2300" {
		t.Errorf("lag at failover %v", run.Values)
	}
	if w.Params["us-west-2"]["/payment/dev/dr/active-region"] != "us-west-2" {
		t.Errorf("target parameters not updated")
	}
	if !strings.Contains(log.String(), "parameters in us-east-1 not updated") {
		t.Errorf("the lost Region's parameter failure was not reported:\n%s", log)
	}
}

func TestFailedStepResumesFromTheJournal(t *testing.T) {
	w := drfake.NewWorld()
	w.FailPut["us-west-2"] = 1 // the first PutParameter in us-west-2 is throttled
	c, log := controller(w)
	dir := t.TempDir()
	run, err := runlog.Create(dir, runlog.Run{ID: "switchover-20261125T040000Z-us-west-2", Kind: "switchover", Target: "us-west-2", Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	err = plan.Execute(context.Background(), c.Switchover("us-west-2"), run, nil, log)
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "update-parameters" {
		t.Fatalf("want update-parameters to fail, got %v", err)
	}
	switches := w.Called("SwitchoverGlobalCluster")

	// A new process: reload the journal from disk and resume.
	run.Close()
	again, err := runlog.Open(dir, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Summary(again); !strings.Contains(got, "switch-writer          done") || !strings.Contains(got, "update-parameters      failed") {
		t.Errorf("journal on disk:\n%s", got)
	}
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), again, nil, log); err != nil {
		t.Fatalf("resume: %v\n%s", err, log)
	}
	if w.Called("SwitchoverGlobalCluster") != switches {
		t.Error("resume repeated the switchover")
	}
	for _, s := range again.Steps {
		if !s.Done() {
			t.Errorf("step %s not done after resume", s.Name)
		}
		if s.Name == "update-parameters" && s.Attempts != 2 {
			t.Errorf("update-parameters attempts %d, want 2", s.Attempts)
		}
	}
}

func TestInterruptedStepIsCheckedBeforeRetry(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	run := newRun(t, "switchover", "us-west-2")
	// Simulate a crash right after SwitchoverGlobalCluster was sent: the
	// journal says switch-writer started, never ended.
	p := c.Switchover("us-west-2")
	if err := plan.Execute(context.Background(), plan.Plan{Steps: p.Steps[:1]}, run, nil, log); err != nil {
		t.Fatal(err)
	}
	if err := w.Switchover(context.Background(), "us-west-2"); err != nil {
		t.Fatal(err)
	}
	run.Step("switch-writer").Started = time.Now()
	_, _ = w.GlobalCluster(context.Background())
	_, _ = w.GlobalCluster(context.Background()) // the move completes
	if err := plan.Execute(context.Background(), p, run, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if n := w.Called("SwitchoverGlobalCluster"); n != 1 {
		t.Errorf("switchover sent %d times; the dirty step must be checked, not blindly retried", n)
	}
	if run.Step("switch-writer").Note != "found done on resume" {
		t.Errorf("note %q", run.Step("switch-writer").Note)
	}
}

func TestStepTimeoutIsAClearError(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	p := c.Switchover("us-west-2")
	for i := range p.Steps {
		if p.Steps[i].Name == "verify-dns" {
			p.Steps[i].Timeout = 20 * time.Millisecond
		}
	}
	dns := slices.IndexFunc(p.Steps, func(s plan.Step) bool { return s.Name == "verify-dns" })
	p.Steps[dns].Run = func(ctx context.Context, _ plan.Recorder) error {
		return plan.Wait(ctx, plan.Backoff{Min: time.Millisecond, Max: time.Millisecond}, "health checks to follow the writer", func(context.Context) (bool, error) { return false, nil })
	}
	err := plan.Execute(context.Background(), p, newRun(t, "switchover", "us-west-2"), nil, log)
	if err == nil || !strings.Contains(err.Error(), "step verify-dns: timed out after 20ms") {
		t.Errorf("got %v", err)
	}
}

func TestEvaluateFindsMissingPermissionAndStaleBackups(t *testing.T) {
	w := drfake.NewWorld()
	c, _ := controller(w)
	if f := c.Evaluate(context.Background()); len(f) != 0 {
		t.Fatalf("healthy environment has findings: %v", f)
	}
	w.Denied = []string{"rds:FailoverGlobalCluster"}
	w.Backups["us-west-2"] = time.Now().Add(-50 * time.Hour)
	w.Lag["us-west-2"] = 3 * time.Minute
	w.Records = []string{"PRIMARY record of api.payment-dev.example.com has no health check"}
	w.Params["us-west-2"]["/payment/dev/dr/active-region"] = "us-west-2"
	got := map[string]string{}
	for _, f := range c.Evaluate(context.Background()) {
		got[f.Check] = f.Problem
	}
	for check, want := range map[string]string{
		"permissions": "rds:FailoverGlobalCluster", "backups": "us-west-2", "replication-lag": "over the 1m0s budget",
		"failover-records": "no health check", "active-region-parameter": "says us-west-2 but the writer is in us-east-1",
	} {
		if !strings.Contains(got[check], want) {
			t.Errorf("%s: %q lacks %q", check, got[check], want)
		}
	}
}

func TestStatusReportsBothRegions(t *testing.T) {
	w := drfake.NewWorld()
	c, _ := controller(w)
	s := c.Status(context.Background())
	if s.Primary != "us-east-1" || len(s.Regions) != 2 || s.Regions[1].ReplicationLagMs == nil || *s.Regions[1].ReplicationLagMs != 800 {
		t.Fatalf("%+v", s)
	}
	var text, js bytes.Buffer
	s.WriteText(&text)
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "us-west-2  secondary  available  800 ms") || !strings.Contains(js.String(), `"primary": "us-east-1"`) {
		t.Errorf("text:\n%s\njson:\n%s", text.String(), js.String())
	}
}

func TestDrillPlannedSwitchoverLosesNothing(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	run := newRun(t, "drill", "us-west-2")
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Switchover("us-west-2"), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	r := res.Result
	if len(r.Lost) != 0 || r.RPO != 0 || r.Unrecovered || r.Writes < 6 {
		t.Errorf("planned switchover: %+v", r)
	}
	if r.Failed > 0 && (r.RTO <= 0 || r.Recovered.Before(r.FirstFailure)) {
		t.Errorf("RTO %s from %s to %s", r.RTO, r.FirstFailure, r.Recovered)
	}
}

func TestDrillUnplannedFailoverMeasuresLoss(t *testing.T) {
	w := drfake.NewWorld()
	c, log := controller(w)
	run := newRun(t, "drill", "us-west-2")
	// Replication stalls: what the primary acknowledges does not reach us-west-2.
	w.Replicate = false
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Failover("us-west-2", true), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	r := res.Result
	if len(r.Lost) < 3 || r.RPO <= 0 {
		t.Fatalf("lost %d RPO %s", len(r.Lost), r.RPO)
	}
	for _, l := range r.Lost {
		if l.End.After(r.FailoverAt) {
			t.Errorf("write acknowledged after the failover counted as lost: %+v", l)
		}
	}
}

func TestDrillDoesNotMoveTheWriterWhenCanariesFail(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"] = true // nothing can write: the canaries fail from the start
	c, _ := controller(w)
	run := newRun(t, "drill", "us-west-2")
	_, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Switchover("us-west-2"), run,
		dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, WarmupTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "writer was not moved") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("got %v", err)
	}
	if w.Called("SwitchoverGlobalCluster") != 0 || w.Writer != "us-east-1" {
		t.Error("the drill moved the writer without working canaries")
	}
}

func TestSwitchoverRefusesAHeadlessTarget(t *testing.T) {
	w := drfake.NewWorld()
	w.Instances["us-west-2"] = 0
	c, log := controller(w)
	err := plan.Execute(context.Background(), c.Switchover("us-west-2"), newRun(t, "switchover", "us-west-2"), nil, log)
	if err == nil || !strings.Contains(err.Error(), "no DB instance (headless)") || w.Called("SwitchoverGlobalCluster") != 0 {
		t.Errorf("got %v", err)
	}
	found := false
	for _, f := range c.Evaluate(context.Background()) {
		found = found || f.Check == "standby-capacity"
	}
	if !found {
		t.Error("evaluate did not report the headless standby")
	}
}

func TestVerifyDNSWaitsForTheFailoverNameAndSaysWhatItSaw(t *testing.T) {
	w := drfake.NewWorld()
	w.StaleDNS = 1000 // resolvers keep answering with us-east-1
	_, _ = w.FailoverHealth(context.Background())
	c, log := controller(w)
	p := c.Switchover("us-west-2")
	p.Steps[slices.IndexFunc(p.Steps, func(s plan.Step) bool { return s.Name == "verify-dns" })].Timeout = 30 * time.Millisecond
	err := plan.Execute(context.Background(), p, newRun(t, "switchover", "us-west-2"), nil, log)
	if err == nil || !strings.Contains(err.Error(), "step verify-dns") || !strings.Contains(err.Error(), "DNS answers us-east-1") {
		t.Fatalf("got %v", err)
	}
	// Once the cache expires the step succeeds.
	w.StaleDNS = 3
	c2, _ := controller(w)
	run := newRun(t, "switchover", "us-west-2")
	run.Steps = nil
	if err := plan.Execute(context.Background(), plan.Plan{Steps: c2.Switchover("us-west-2").Steps[5:]}, run, nil, log); err != nil {
		t.Fatal(err)
	}
}

func TestInterruptedDrillResumesWithItsCanaries(t *testing.T) {
	w := drfake.NewWorld()
	w.Replicate = false
	c, log := controller(w)
	dir := t.TempDir()
	run, err := runlog.Create(dir, runlog.Run{ID: "drill-20261125T040000Z-us-west-2", Kind: "drill", Target: "us-west-2", Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// The failover is sent; then the operator's laptop dies (the context
	// ends) before the step is recorded as ended.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := c.Failover("us-west-2", true)
	for i := range p.Steps {
		if p.Steps[i].Name == "promote" {
			inner := p.Steps[i].Run
			p.Steps[i].Run = func(ctx context.Context, rec plan.Recorder) error { err := inner(ctx, rec); cancel(); return err }
		}
	}
	first, err := c.Drill(ctx, drfake.Canary{W: w}, p, run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err == nil {
		t.Fatal("interrupted drill reported success")
	}
	before := len(first.Samples)

	run.Close()
	again, err := runlog.Open(dir, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Failover("us-west-2", true), again, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if before < 3 || len(res.Samples) <= before || w.Called("FailoverGlobalCluster") != 1 || again.Step("promote").Note != "found done on resume" {
		t.Errorf("samples %d (first attempt %d), failovers %d", len(res.Samples), before, w.Called("FailoverGlobalCluster"))
	}
	// The writes acknowledged before the failover, in the first attempt,
	// are the ones measured as lost.
	if len(res.Result.Lost) < 3 || res.Result.Lost[0].Start.After(res.Result.FailoverAt) {
		t.Errorf("lost %d, failover at %s", len(res.Result.Lost), res.Result.FailoverAt)
	}
}

// lastingCanary acknowledges its first n writes, then fails every one: a
// fault that lands as soon as the warm-up has its writes.
type lastingCanary struct {
	drfake.Canary
	mu sync.Mutex
	n  int
}

func (c *lastingCanary) Write(ctx context.Context, key string) (string, string, error) {
	c.mu.Lock()
	c.n--
	left := c.n
	c.mu.Unlock()
	if left < 0 {
		return "", "", errors.New("503 backend_unavailable")
	}
	return c.Canary.Write(ctx, key)
}

// Every canary the drill writes counts toward its warm-up, the first
// included: with exactly Warmup acknowledged the writer moves (a warm-up
// that began counting after the first canary started waited forever).
func TestDrillWarmUpCountsItsFirstCanary(t *testing.T) {
	for i := range 20 {
		w := drfake.NewWorld()
		c, _ := controller(w)
		c.Clock = nil // the wall clock, whose reads order the canaries and the warm-up
		run := newRun(t, "drill", "us-west-2")
		_, err := c.Drill(context.Background(), &lastingCanary{Canary: drfake.Canary{W: w}, n: 3}, c.Switchover("us-west-2"), run,
			dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, WarmupTimeout: 500 * time.Millisecond, SettleTimeout: 50 * time.Millisecond})
		if err != nil && strings.Contains(err.Error(), "writer was not moved") {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}
