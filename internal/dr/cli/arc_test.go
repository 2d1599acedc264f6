package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

const testPlanArn = "arn:aws:arc-region-switch::123456789012:plan/payment-dr-dev:abc123"

// fakeARC runs an execution in three reads: its first step runs, then the
// approval step waits until answered, then the last step completes.
type fakeARC struct {
	mu      sync.Mutex
	execs   []*arcexec.Execution
	started []arcexec.StartRequest
	reads   int
}

var fakeStart = time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)

func (f *fakeARC) PlanARN(_ context.Context, name string) (string, error) {
	if name != "payment-dr-dev" {
		return "", fmt.Errorf("plan %s: %w", name, arcexec.ErrNotFound)
	}
	return testPlanArn, nil
}

func (f *fakeARC) Start(_ context.Context, r arcexec.StartRequest) (arcexec.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, r)
	e := f.add(fmt.Sprintf("ex-%d", len(f.execs)+1), r.Action, r.Mode, r.TargetRegion, arcexec.StateInProgress)
	return *e, nil
}

func (f *fakeARC) add(id, action, mode, region, state string) *arcexec.Execution {
	e := &arcexec.Execution{PlanArn: testPlanArn, ID: id, Action: action, Mode: mode, Region: region, State: state, Started: fakeStart,
		Steps: []arcexec.StepState{{Name: "mark-move", Status: arcexec.StepNotStarted}, {Name: "approve", Status: arcexec.StepNotStarted}, {Name: "promote", Status: arcexec.StepNotStarted}}}
	if state == arcexec.StatePendingApproval {
		e.Steps[0].Status, e.Steps[1].Status = arcexec.StepCompleted, arcexec.StepPendingApproval
	}
	f.execs = append(f.execs, e)
	return e
}

// advance moves a running execution one step.
func advance(e *arcexec.Execution) {
	switch {
	case e.Steps[0].Status == arcexec.StepNotStarted:
		e.Steps[0].Status = arcexec.StepRunning
	case e.Steps[0].Status == arcexec.StepRunning:
		e.Steps[0].Status, e.Steps[1].Status, e.State = arcexec.StepCompleted, arcexec.StepPendingApproval, arcexec.StatePendingApproval
	case e.Steps[1].Status == arcexec.StepCompleted && e.Steps[2].Status != arcexec.StepCompleted:
		e.Steps[2].Status, e.State, e.Ended = arcexec.StepCompleted, arcexec.StateCompleted, fakeStart.Add(2*time.Minute)
	}
}

func (f *fakeARC) find(id string) (*arcexec.Execution, error) {
	for _, e := range f.execs {
		if e.ID == id {
			return e, nil
		}
	}
	return nil, fmt.Errorf("execution %s: %w", id, arcexec.ErrNotFound)
}

func (f *fakeARC) Get(_ context.Context, _, id string) (arcexec.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.find(id)
	if err != nil {
		return arcexec.Execution{}, err
	}
	f.reads++
	advance(e)
	c := *e
	c.Steps = append([]arcexec.StepState(nil), e.Steps...)
	return c, nil
}

func (f *fakeARC) List(context.Context, string) ([]arcexec.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []arcexec.Execution
	for i := len(f.execs) - 1; i >= 0; i-- {
		out = append(out, *f.execs[i])
	}
	return out, nil
}

func (f *fakeARC) Approve(_ context.Context, _, id, step string, approve bool, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.find(id)
	if err != nil {
		return err
	}
	if e.State != arcexec.StatePendingApproval || step != "approve" {
		return fmt.Errorf("step %s: %w", step, arcexec.ErrConflict)
	}
	e.Steps[1].Status, e.State = arcexec.StepCompleted, arcexec.StateInProgress
	if !approve {
		e.Steps[1].Status, e.State, e.Ended = arcexec.StepCancelled, arcexec.StateCancelled, fakeStart.Add(time.Minute)
	}
	return nil
}

func (f *fakeARC) Cancel(context.Context, string, string) error { return nil }

type mapMirror map[string][]byte

func (m mapMirror) Put(_ context.Context, id string, b []byte) error { m[id] = b; return nil }
func (m mapMirror) Get(_ context.Context, id string) ([]byte, error) {
	if b, ok := m[id]; ok {
		return b, nil
	}
	return nil, runlog.ErrNotFound
}

func runARC(t *testing.T, f *fakeARC, m runlog.Mirror, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	var r result
	r.code = Main(args, Deps{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Poll: time.Millisecond, Now: func() time.Time { return fakeStart },
		Connect: func(context.Context, config.Config, Options) (Conn, error) {
			r.connected = true
			if f == nil {
				// status reaches ARC and fails to find the plan
				return Conn{Cloud: drfake.NewWorld(), ARC: &fakeARC{}}, nil
			}
			return Conn{Cloud: drfake.NewWorld(), ARC: f, Mirror: m}, nil
		},
	})
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// waitPending waits until the execution waits for approval.
func waitPending(t *testing.T, f *fakeARC) {
	t.Helper()
	for range 2000 {
		f.mu.Lock()
		pending := len(f.execs) > 0 && f.execs[0].State == arcexec.StatePendingApproval
		f.mu.Unlock()
		if pending {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the execution never waited for approval")
}

func TestFailoverViaARCStartsFollowsAndIsApproved(t *testing.T) {
	cfg := writeConfig(t, false)
	dir := t.TempDir()
	f := &fakeARC{}
	journal, _ := json.Marshal(runlog.Run{ID: arcexec.RunID("failover", fakeStart, "ex-1"), Kind: "failover", Target: "us-west-2", Env: "dev",
		Created: fakeStart, Values: map[string]string{"lagAtFailover": "850ms", "fence": "us-east-1"},
		Steps: []runlog.Step{{Name: "fence-old", Started: fakeStart, Ended: fakeStart.Add(time.Second), Attempts: 1}}})
	m := mapMirror{arcexec.RunID("failover", fakeStart, "ex-1"): journal}
	done := make(chan result)
	go func() {
		done <- runARC(t, f, m, "failover", "-config", cfg, "--to", "us-west-2", "--via", "arc", "--allow-data-loss", "--yes", "--report-dir", dir)
	}()
	waitPending(t, f)
	if r := runARC(t, f, nil, "approve", "-config", cfg, "--comment", "go"); r.code != 0 || !strings.Contains(r.stdout, "approved step approve of execution ex-1") {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("failover --via arc: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if len(f.started) != 1 || f.started[0] != (arcexec.StartRequest{PlanArn: testPlanArn, TargetRegion: "us-west-2", Action: "activate", Mode: "ungraceful", Comment: "drctl failover"}) {
		t.Errorf("started %+v", f.started)
	}
	for _, want := range []string{"started ARC execution ex-1 (activate, ungraceful) in us-west-2", "mark-move                    running",
		"step approve waits for approval; to approve run:\n  drctl approve --config " + cfg + " --execution ex-1",
		"promote                      completed", "execution ex-1 completed, 2m0s", "lagAtFailover: 850ms", "fence: us-east-1", "fence-old"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, arcexec.RunID("failover", fakeStart, "ex-1"), "report.json")); err != nil {
		t.Errorf("the custom actions' report is not written: %v", err)
	}
	if strings.Count(r.stdout, "waits for approval") != 1 {
		t.Errorf("the approve command is printed more than once:\n%s", r.stdout)
	}
}

func TestDeclinedExecutionFailsTheCommand(t *testing.T) {
	cfg := writeConfig(t, false)
	f := &fakeARC{}
	done := make(chan result)
	go func() {
		done <- runARC(t, f, nil, "rejoin", "-config", cfg, "--region", "us-east-1", "--via", "arc", "--yes", "--report-dir", t.TempDir())
	}()
	waitPending(t, f)
	if r := runARC(t, f, nil, "approve", "-config", cfg, "--execution", "ex-1", "--decline"); r.code != 0 || !strings.Contains(r.stdout, "declined step approve of execution ex-1") {
		t.Fatalf("decline: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := <-done
	if r.code != 1 || !strings.Contains(r.stderr, "ARC execution ex-1 did not complete: canceled") {
		t.Errorf("declined rejoin: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if f.started[0].Action != "postRecovery" || f.started[0].TargetRegion != "us-west-2" {
		t.Errorf("rejoin of us-east-1 must post-recover from the active us-west-2: %+v", f.started[0])
	}
	if !strings.Contains(r.stdout, "journal rejoin-20261206T040000Z-arc-ex-1: not read (this connection has no journal mirror)") {
		t.Errorf("missing journal not said:\n%s", r.stdout)
	}
}

func TestApproveNeedsExactlyOnePendingExecution(t *testing.T) {
	cfg := writeConfig(t, false)
	f := &fakeARC{}
	if r := runARC(t, f, nil, "approve", "-config", cfg); r.code != 1 || !strings.Contains(r.stderr, "no execution of the plan is pending approval") {
		t.Errorf("none pending: %d %q", r.code, r.stderr)
	}
	f.add("ex-1", "activate", "graceful", "us-west-2", arcexec.StatePendingApproval)
	f.add("ex-2", "activate", "ungraceful", "us-west-2", arcexec.StatePendingApproval)
	if r := runARC(t, f, nil, "approve", "-config", cfg); r.code != 2 || !strings.Contains(r.stderr, "2 executions are pending approval (ex-2, ex-1): choose one with --execution") {
		t.Errorf("two pending: %d %q", r.code, r.stderr)
	}
	if r := runARC(t, f, nil, "approve", "-config", cfg, "--execution", "ex-9"); r.code != 1 || !strings.Contains(r.stderr, "execution ex-9: not found") {
		t.Errorf("unknown execution: %d %q", r.code, r.stderr)
	}
}

func TestARCFlagsAreCheckedBeforeConnecting(t *testing.T) {
	cfg := writeConfig(t, false)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"switchover", "-config", cfg, "--to", "us-west-2", "--via", "ssm"}, `--via "ssm": want drctl or arc`},
		{[]string{"failover", "-config", cfg, "--to", "us-west-2", "--via", "arc"}, "add --allow-data-loss"},
		{[]string{"switchover", "-config", cfg, "--to", "us-west-2", "--via", "arc", "--new"}, "--resume and --new apply to drctl's own runs"},
		{[]string{"rejoin", "-config", cfg, "--region", "us-east-1", "--via", ""}, `--via "": want drctl or arc`},
		{[]string{"approve", "-config", cfg, "--comment", strings.Repeat("x", 1025)}, "--comment is 1025 characters"},
		{[]string{"approve", "-config", cfg, "--execution", "a b"}, "is not an execution ID"},
		{[]string{"failback", "-config", cfg, "--via", "arc"}, "flag provided but not defined: -via"},
	}
	for _, c := range cases {
		if r := runARC(t, nil, nil, c.args...); r.code != 2 || !strings.Contains(r.stderr, c.want) || r.connected {
			t.Errorf("%v: %d %q connected %v", c.args, r.code, r.stderr, r.connected)
		}
	}
}

func TestStatusShowsTheLatestExecution(t *testing.T) {
	cfg := writeConfig(t, false)
	f := &fakeARC{}
	f.add("ex-1", "activate", "graceful", "us-west-2", arcexec.StatePendingApproval)
	r := runARC(t, f, nil, "status", "-config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "ARC Region switch: latest execution ex-1: activate graceful in us-west-2, pendingManualApproval (started 2026-12-06T04:00:00Z), step approve pending approval") {
		t.Errorf("status: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runARC(t, &fakeARC{}, nil, "status", "-config", cfg)
	if !strings.Contains(r.stdout, "no execution of the plan yet") {
		t.Errorf("status without executions:\n%s", r.stdout)
	}
	r = runARC(t, nil, nil, "status", "-config", writeConfigEnv(t, "qa"))
	if r.code != 0 || !strings.Contains(r.stdout, "warning: ARC Region switch executions not read: plan payment-dr-qa: not found") {
		t.Errorf("an unreadable execution must be a warning line: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// writeConfigEnv writes a configuration of environment env (whose plan
// fakeARC does not know).
func writeConfigEnv(t *testing.T, env string) string {
	t.Helper()
	p := writeConfig(t, false)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"dev"`), []byte(`"`+env+`"`), 1), 0o600)
	return p
}
