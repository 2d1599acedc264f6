package action_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/action"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/payments"
)

func testCfg() config.Config {
	c := config.Default()
	c.Environment, c.DomainName, c.AlarmEmail = "dev", "example.com", "a@example.com"
	return c
}

// executions is the one execution the test's ARC is running.
type executions struct {
	arcexec.Service
	exec arcexec.Execution
}

func (e *executions) Get(_ context.Context, planArn, id string) (arcexec.Execution, error) {
	if planArn != e.exec.PlanArn || id != e.exec.ID {
		return arcexec.Execution{}, arcexec.ErrNotFound
	}
	return e.exec, nil
}

// memMirror is the journal's copy outside the sandbox.
type memMirror struct {
	mu   sync.Mutex
	data map[string][]byte
}

// Put keeps only a newer version, as the DynamoDB mirror's conditional
// write does (awsops.JournalMirror).
func (m *memMirror) Put(_ context.Context, id string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.data[id]; ok && version(old) >= version(data) {
		return fmt.Errorf("version %d is not newer than %d: %w", version(data), version(old), runlog.ErrConflict)
	}
	m.data[id] = append([]byte(nil), data...)
	return nil
}

func version(data []byte) int64 {
	var v struct {
		Version int64 `json:"version"`
	}
	_ = json.Unmarshal(data, &v)
	return v.Version
}

func (m *memMirror) Get(_ context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.data[id]; ok {
		return d, nil
	}
	return nil, runlog.ErrNotFound
}

// runWorkflow plays ARC: the activate workflow's steps in order, each
// custom action invoked in a new sandbox (its own /tmp), the Aurora block
// moving the fake world's writer, graceful-only steps skipped in
// ungraceful mode.
func runWorkflow(t *testing.T, w *drfake.World, mode string, mirror *memMirror) (*bytes.Buffer, []action.Result) {
	t.Helper()
	cfg := testCfg()
	cfg.AutoFailover = true
	log := &bytes.Buffer{}
	execs := &executions{exec: arcexec.Execution{PlanArn: "arn:aws:arc-region-switch::111111111111:plan/payment-dr-dev:abc123", ID: "Ex-42",
		Action: arcplan.Activate, Mode: mode, Region: "us-west-2", Started: time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)}}
	var results []action.Result
	p := arcplan.Build(cfg, arcplan.Inputs{HostedZoneID: "Z1"})
	for _, s := range p.Workflows[0].Steps {
		switch s.ExecutionBlockType {
		case arcplan.BlockAurora:
			var err error
			if mode == arcplan.Ungraceful {
				err = w.Failover(context.Background(), "us-west-2", true)
			} else {
				err = w.Switchover(context.Background(), "us-west-2")
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		case arcplan.BlockLambda:
		default:
			continue
		}
		if mode == arcplan.Ungraceful && s.ExecutionBlockConfiguration.CustomActionLambdaConfig.Ungraceful != nil {
			continue
		}
		h := &action.Handler{
			Controller: &dr.Controller{Cfg: cfg, Cloud: w, Poll: time.Millisecond, Log: log},
			Executions: execs, Dir: t.TempDir(),
			Mirror: func(string) runlog.Mirror { return mirror },
		}
		res, err := h.Handle(context.Background(), action.Event{InvokedBy: "ARC Region switch", PlanArn: execs.exec.PlanArn, ExecutionId: execs.exec.ID, StepName: s.Name})
		if err != nil {
			t.Fatalf("step %s: %v\n%s", s.Name, err, log)
		}
		results = append(results, res)
	}
	return log, results
}

func journal(t *testing.T, m *memMirror, kind string) *runlog.Run {
	t.Helper()
	return journalOf(t, m, kind, "Ex-42")
}

func journalOf(t *testing.T, m *memMirror, kind, execution string) *runlog.Run {
	t.Helper()
	id := arcexec.RunID(kind, time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC), execution)
	data, err := m.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("journal %s: %v", id, err)
	}
	run, err := runlog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// An ungraceful execution is drctl's unplanned failover, step by step,
// each step in its own sandbox: the fence and the writer record precede
// the promotion, the journal is replayed after it, and values recorded by
// one invocation (the lag, the move's start, the epoch) reach the next.
func TestAnUngracefulExecutionRunsDrctlsFailover(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"] = true
	mirror := &memMirror{data: map[string][]byte{}}
	log, results := runWorkflow(t, w, arcplan.Ungraceful, mirror)
	if w.Writer != "us-west-2" {
		t.Fatalf("writer %s\n%s", w.Writer, log)
	}
	calls := strings.Join(w.Calls(), "\n")
	fence, promote := strings.Index(calls, "FenceWrites us-east-1"), strings.Index(calls, "FailoverGlobalCluster us-west-2")
	if fence < 0 || promote < 0 || fence > promote || w.Called("SwitchoverGlobalCluster") != 0 {
		t.Errorf("fence at %d, promote at %d:\n%s", fence, promote, calls)
	}
	run := journal(t, mirror, arcplan.KindFailover)
	if !run.Completed {
		t.Errorf("journal not completed: %s", runSummary(run))
	}
	for _, k := range []string{runlog.MoveAtKey, dr.WriterEpochKey, dr.WriterEpochSetKey, dr.LagAtFailoverMsKey, dr.ReplayedCountKey, dr.LeaseWaitKey} {
		if _, ok := run.Values[k]; !ok {
			t.Errorf("journal lacks %s: %v", k, run.Values)
		}
	}
	for _, r := range results {
		if r.Step == "wait-standby-sync" || r.Step == "set-writer-epoch" {
			t.Errorf("graceful-only step %s ran in an ungraceful execution", r.Step)
		}
	}
}

// A graceful execution is drctl's switchover: the failover's own steps do
// nothing, and the writer record moves only after the topology settled.
func TestAGracefulExecutionRunsDrctlsSwitchover(t *testing.T) {
	w := drfake.NewWorld()
	mirror := &memMirror{data: map[string][]byte{}}
	log, results := runWorkflow(t, w, arcplan.Graceful, mirror)
	if w.Writer != "us-west-2" || w.Called("FenceWrites") != 0 || w.Called("FailoverGlobalCluster") != 0 {
		t.Fatalf("writer %s, calls %v\n%s", w.Writer, w.Calls(), log)
	}
	noop := map[string]bool{}
	for _, r := range results {
		if !r.Ran {
			noop[r.Step] = true
		}
	}
	for _, s := range []string{"record-lag", "fence-writes", "set-writer-epoch-first", "confirm-fenced", "replay-journal", "keep-old-data"} {
		if !noop[s] {
			t.Errorf("%s ran in a switchover", s)
		}
	}
	run := journal(t, mirror, arcplan.KindSwitchover)
	if !run.Completed || run.Values[runlog.MoveAtKey] == "" {
		t.Errorf("journal: completed %v, values %v\n%s", run.Completed, run.Values, runSummary(run))
	}
}

func runSummary(r *runlog.Run) string {
	b, _ := json.MarshalIndent(r.Steps, "", " ")
	return string(b)
}

func TestEventsNotFromThisPlanAreRefused(t *testing.T) {
	cfg := testCfg()
	execs := &executions{exec: arcexec.Execution{PlanArn: "p", ID: "e", Action: arcplan.Activate, Mode: arcplan.Graceful, Region: "us-west-2"}}
	h := &action.Handler{Controller: &dr.Controller{Cfg: cfg, Cloud: drfake.NewWorld()}, Executions: execs, Dir: t.TempDir()}
	for _, tc := range []struct {
		ev   action.Event
		want error
	}{
		{action.Event{PlanArn: "p", ExecutionId: "e"}, action.ErrBadEvent},
		{action.Event{PlanArn: "p", ExecutionId: "e", StepName: "move-writer"}, action.ErrBadEvent}, // ARC's own block
		{action.Event{PlanArn: "p", ExecutionId: "e", StepName: "drop-tables"}, action.ErrBadEvent},
		{action.Event{PlanArn: "p", ExecutionId: "other", StepName: "preflight"}, arcexec.ErrNotFound},
	} {
		if _, err := h.Handle(context.Background(), tc.ev); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.ev, err, tc.want)
		}
	}
}

// Lambda reuses a warm sandbox: its copy of the journal may be older than
// the mirror, which a sandbox that ran a later step updated. The step runs
// on the newest journal and sees what the later step recorded.
func TestAWarmSandboxWithAnOldJournalRunsOnTheNewest(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"] = true
	cfg := testCfg()
	mirror := &memMirror{data: map[string][]byte{}}
	execs := &executions{exec: arcexec.Execution{PlanArn: "arn:aws:arc-region-switch::111111111111:plan/payment-dr-dev:abc123", ID: "Ex-42",
		Action: arcplan.Activate, Mode: arcplan.Ungraceful, Region: "us-west-2", Started: time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)}}
	sandboxA, sandboxB := t.TempDir(), t.TempDir()
	invoke := func(dir, step string) error {
		h := &action.Handler{Controller: &dr.Controller{Cfg: cfg, Cloud: w, Poll: time.Millisecond, Log: &bytes.Buffer{}},
			Executions: execs, Dir: dir, Mirror: func(string) runlog.Mirror { return mirror }}
		_, err := h.Handle(context.Background(), action.Event{PlanArn: execs.exec.PlanArn, ExecutionId: "Ex-42", StepName: step})
		return err
	}
	for _, step := range []struct{ dir, name string }{{sandboxA, "preflight"}, {sandboxB, "record-lag"}, {sandboxA, "fence-writes"}} {
		if err := invoke(step.dir, step.name); err != nil {
			t.Fatalf("%s in %s: %v", step.name, step.dir, err)
		}
	}
	run := journal(t, mirror, arcplan.KindFailover)
	for _, s := range []string{"preflight", "record-lag", "fence-writes"} {
		if !run.Step(s).Done() {
			t.Errorf("the mirrored journal lost %s: %s", s, runSummary(run))
		}
	}
	if _, ok := run.Values[dr.LagAtFailoverMsKey]; !ok {
		t.Errorf("record-lag's value lost: %v", run.Values)
	}
}

// dyingEpochs writes the writer record, then its invocation dies before
// the step's end is saved (Lambda's timeout, a crash): once.
type dyingEpochs struct {
	*drfake.World
	died bool
	kill context.CancelFunc // the running invocation's
}

func (d *dyingEpochs) SetJournalWriter(ctx context.Context, target string, prev int64, setBy string) (dr.WriterEpoch, error) {
	w, err := d.World.SetJournalWriter(ctx, target, prev, setBy)
	if err == nil && !d.died {
		d.died = true
		d.kill()
		return w, context.Canceled
	}
	return w, err
}

// ARC invokes set-writer-epoch-first again in another sandbox after the
// first invocation wrote the record and died before saving when: the
// retry finds the record in place (no second epoch), and the replay,
// knowing no write time, waits a whole lease from its own start, so no
// request the old writer admitted before the record moved is still
// answering when the claims are read.
func TestARetriedWriterRecordStepStillWaitsOutTheLease(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"] = true
	cloud := &dyingEpochs{World: w}
	cfg := testCfg()
	mirror := &memMirror{data: map[string][]byte{}}
	execs := &executions{exec: arcexec.Execution{PlanArn: "arn:aws:arc-region-switch::111111111111:plan/payment-dr-dev:abc123", ID: "Ex-7",
		Action: arcplan.Activate, Mode: arcplan.Ungraceful, Region: "us-west-2", Started: time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)}}
	invoke := func(step string) error {
		h := &action.Handler{Controller: &dr.Controller{Cfg: cfg, Cloud: cloud, Poll: time.Millisecond, Log: &bytes.Buffer{}},
			Executions: execs, Dir: t.TempDir(), Mirror: func(string) runlog.Mirror { return mirror }}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cloud.kill = cancel
		_, err := h.Handle(ctx, action.Event{PlanArn: execs.exec.PlanArn, ExecutionId: "Ex-7", StepName: step})
		return err
	}
	for _, s := range []string{"preflight", "record-lag", "fence-writes"} {
		if err := invoke(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := invoke("set-writer-epoch-first"); err == nil {
		t.Fatal("the killed invocation reported success")
	}
	if err := invoke("set-writer-epoch-first"); err != nil {
		t.Fatalf("ARC's retry: %v", err)
	}
	if rec, _, _ := w.JournalWriter(context.Background(), "us-west-2"); rec.Region != "us-west-2" || rec.Epoch != 1 {
		t.Fatalf("writer record %+v, want us-west-2 at epoch 1 (written once)", rec)
	}
	if err := invoke("mark-move"); err != nil {
		t.Fatal(err)
	}
	if err := w.Failover(context.Background(), "us-west-2", true); err != nil {
		t.Fatal(err)
	}
	retried := time.Now()
	for _, s := range []string{"wait-topology", "confirm-fenced", "lift-fence", "replay-journal"} {
		if err := invoke(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	run := journalOf(t, mirror, arcplan.KindFailover, "Ex-7")
	waited, err := time.ParseDuration(run.Values[dr.LeaseWaitKey])
	if err != nil || time.Since(retried) < payments.WriterLease || waited < payments.WriterLease-time.Second {
		t.Fatalf("the replay waited %q (%v) for the lease, %s since the retry; want a whole lease (%s)", run.Values[dr.LeaseWaitKey], err, time.Since(retried), payments.WriterLease)
	}
}
