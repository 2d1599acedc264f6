package regionswitch_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/payment-dr/payment-dr/internal/lab/regionswitch"
)

func testCfg() config.Config {
	c := config.Default()
	c.Environment, c.DomainName, c.AlarmEmail = "dev", "example.com", "a@example.com"
	return c
}

const planArn = "arn:aws:arc-region-switch::111111111111:plan/payment-dr-dev:lab001"

// syncBuf is a log written by the engine's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// engine runs the plan as the template holds it (through the JSON the
// lab decodes) against the fake world, custom actions through the
// action handler, which reads the execution back from the engine.
func engine(t *testing.T, w *drfake.World, edit func(*arcplan.Plan)) (*regionswitch.Engine, *syncBuf, *string) {
	t.Helper()
	cfg := testCfg()
	p := arcplan.Build(cfg, arcplan.Inputs{HostedZoneID: "Z1"})
	if edit != nil {
		edit(&p)
	}
	props, _ := json.Marshal(p)
	decoded, err := regionswitch.Decode(props)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuf{}
	routed := new(string)
	var mu sync.Mutex
	var e *regionswitch.Engine
	e, err = regionswitch.New(regionswitch.Options{Plan: decoded, PlanArn: planArn, Cfg: cfg, Cloud: w, Log: log,
		Minute: 10 * time.Millisecond, Poll: 5 * time.Millisecond,
		Route: func(r string) { mu.Lock(); *routed = r; mu.Unlock() },
		Invoke: func(ctx context.Context, region string, ev action.Event) error {
			h := &action.Handler{Controller: &dr.Controller{Cfg: cfg, Cloud: w, Poll: time.Millisecond, Log: log}, Executions: e, Dir: t.TempDir() + "/" + region}
			_, err := h.Handle(ctx, ev)
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	return e, log, routed
}

func wait(t *testing.T, e *regionswitch.Engine, id string, done func(arcexec.Execution) bool) arcexec.Execution {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		x, err := e.Get(context.Background(), planArn, id)
		if err != nil {
			t.Fatal(err)
		}
		if done(x) {
			return x
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("execution %s did not get there", id)
	return arcexec.Execution{}
}

// With the triggers on and approvals granted, the writer's Region lost
// makes the plan fail over by itself: the probe alarm's trigger starts an
// ungraceful activation of the other Region, which runs drctl's failover.
func TestATriggerFailsOverWithoutAnOperator(t *testing.T) {
	w := drfake.NewWorld()
	w.Down["us-east-1"] = true
	e, log, routed := engine(t, w, nil)
	e.SetTriggers(true, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The probes see no Region take payments while us-east-1 holds the
	// writer (it is down); once us-west-2 does, the alarms clear.
	go e.Watch(ctx, func(string) bool {
		g, _ := w.GlobalCluster(ctx)
		return g.Writer() == "us-east-1"
	})
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if l, _ := e.List(ctx, planArn); len(l) > 0 {
			id = l[0].ID
		}
	}
	if id == "" {
		t.Fatalf("no trigger fired\n%s", log)
	}
	x := wait(t, e, id, arcexec.Execution.Finished)
	if x.State != arcexec.StateCompleted || x.Mode != arcplan.Ungraceful || w.Writer != "us-west-2" || *routed != "us-west-2" {
		t.Fatalf("%+v writer %s routed %s\n%s", x, w.Writer, *routed, log)
	}
	if w.Called("FenceWrites us-east-1") != 1 || w.Called("FailoverGlobalCluster us-west-2") != 1 {
		t.Errorf("calls %v", w.Calls())
	}
	// The writer is now the trigger's target: it does not fire again.
	time.Sleep(100 * time.Millisecond)
	if l, _ := e.List(ctx, planArn); len(l) != 1 {
		t.Errorf("%d executions", len(l))
	}
}

// A graceful execution waits for approval, and only then switches over.
func TestApprovalGatesTheSwitchover(t *testing.T) {
	w := drfake.NewWorld()
	e, log, _ := engine(t, w, nil)
	x, err := e.Start(context.Background(), arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: arcplan.Activate, Mode: arcplan.Graceful})
	if err != nil {
		t.Fatal(err)
	}
	x = wait(t, e, x.ID, func(x arcexec.Execution) bool { return x.State == arcexec.StatePendingApproval })
	if _, err := e.Start(context.Background(), arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: arcplan.Activate}); err == nil {
		t.Error("a second execution started while one waits")
	}
	if w.Called("SwitchoverGlobalCluster") != 0 {
		t.Fatal("moved before approval")
	}
	if err := e.Approve(context.Background(), planArn, x.ID, arcplan.ApprovalStep, true, "test"); err != nil {
		t.Fatal(err)
	}
	x = wait(t, e, x.ID, arcexec.Execution.Finished)
	if x.State != arcexec.StateCompleted || w.Writer != "us-west-2" || w.Called("SwitchoverGlobalCluster us-west-2") != 1 || w.Called("FenceWrites") != 0 {
		t.Fatalf("%+v writer %s calls %v\n%s", x, w.Writer, w.Calls(), log)
	}
}

// A plan that names the wrong function fails in the lab as on AWS.
func TestAWrongPlanFailsInTheLab(t *testing.T) {
	w := drfake.NewWorld()
	e, log, _ := engine(t, w, func(p *arcplan.Plan) {
		for i := range p.Workflows[0].Steps {
			if c := p.Workflows[0].Steps[i].ExecutionBlockConfiguration.CustomActionLambdaConfig; c != nil {
				c.Lambdas = c.Lambdas[:1] // only us-east-1's function
			}
		}
	})
	e.SetTriggers(false, true)
	x, err := e.Start(context.Background(), arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: arcplan.Activate, Mode: arcplan.Graceful})
	if err != nil {
		t.Fatal(err)
	}
	x = wait(t, e, x.ID, arcexec.Execution.Finished)
	if x.State != arcexec.StateFailed || !strings.Contains(log.String(), "names no function in us-west-2") || w.Writer != "us-east-1" {
		t.Errorf("%+v writer %s\n%s", x, w.Writer, log)
	}
}

// Any properties decode into a plan or an error, never a panic; a plan
// the lab accepts round-trips.
func FuzzDecodePlan(f *testing.F) {
	b, _ := json.Marshal(arcplan.Build(testCfg(), arcplan.Inputs{HostedZoneID: "Z1"}))
	f.Add(b)
	f.Add([]byte(`{"Name":{"Ref":"X"},"Workflows":[{"WorkflowTargetAction":"activate","Steps":[]}],"Tags":[1]}`))
	f.Add([]byte(`{"Workflows":[],"Bogus":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := regionswitch.Decode(data)
		if err != nil {
			return
		}
		again, _ := json.Marshal(p)
		if _, err := regionswitch.Decode(again); err != nil {
			t.Fatalf("a decoded plan does not decode again: %v\n%s", err, again)
		}
	})
}
