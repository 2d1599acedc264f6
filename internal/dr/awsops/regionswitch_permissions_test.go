package awsops

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/arcregionswitch"
	"github.com/aws/smithy-go/middleware"

	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/lab/arcapi"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// oneExecution is ARC with one plan and the execution a test starts,
// waiting at its approval step.
type oneExecution struct {
	arn  string
	exec *arcexec.Execution
}

func (o *oneExecution) PlanARN(_ context.Context, name string) (string, error) {
	if name != "payment-dr-dev" {
		return "", arcexec.ErrNotFound
	}
	return o.arn, nil
}

func (o *oneExecution) Start(_ context.Context, r arcexec.StartRequest) (arcexec.Execution, error) {
	o.exec = &arcexec.Execution{PlanArn: r.PlanArn, ID: "ex-1", Action: r.Action, Mode: r.Mode, Region: r.TargetRegion,
		State: arcexec.StatePendingApproval, Started: time.Now().UTC(), Steps: []arcexec.StepState{{Name: "approve", Status: arcexec.StepPendingApproval}}}
	return *o.exec, nil
}

func (o *oneExecution) Get(_ context.Context, planArn, id string) (arcexec.Execution, error) {
	if o.exec == nil || id != o.exec.ID || planArn != o.arn {
		return arcexec.Execution{}, arcexec.ErrNotFound
	}
	return *o.exec, nil
}

func (o *oneExecution) List(context.Context, string) ([]arcexec.Execution, error) {
	if o.exec == nil {
		return nil, nil
	}
	return []arcexec.Execution{*o.exec}, nil
}

func (o *oneExecution) Approve(context.Context, string, string, string, bool, string) error {
	o.exec.State, o.exec.Steps[0].Status = arcexec.StateInProgress, arcexec.StepCompleted
	return nil
}

func (o *oneExecution) Cancel(context.Context, string, string) error {
	o.exec.State = arcexec.StateCancelled
	return nil
}

// arcAuthorizations: ARC Region switch's actions are authorized on the
// plan (resource type plan*), except ListPlansInRegion, which has no
// resource type (Service Authorization Reference, AWS Application
// Recovery Controller - Region switch).
var arcAuthorizations = map[string]func(op sentOp) access{
	"ListPlansInRegion": func(sentOp) access { return access{"arc-region-switch:ListPlansInRegion", "*"} },
	"StartPlanExecution": func(op sentOp) access {
		return access{"arc-region-switch:StartPlanExecution", aws.ToString(op.Input.(*arcregionswitch.StartPlanExecutionInput).PlanArn)}
	},
	"GetPlanExecution": func(op sentOp) access {
		return access{"arc-region-switch:GetPlanExecution", aws.ToString(op.Input.(*arcregionswitch.GetPlanExecutionInput).PlanArn)}
	},
	"ListPlanExecutions": func(op sentOp) access {
		return access{"arc-region-switch:ListPlanExecutions", aws.ToString(op.Input.(*arcregionswitch.ListPlanExecutionsInput).PlanArn)}
	},
	"ApprovePlanExecutionStep": func(op sentOp) access {
		return access{"arc-region-switch:ApprovePlanExecutionStep", aws.ToString(op.Input.(*arcregionswitch.ApprovePlanExecutionStepInput).PlanArn)}
	},
	"CancelPlanExecution": func(op sentOp) access {
		return access{"arc-region-switch:CancelPlanExecution", aws.ToString(op.Input.(*arcregionswitch.CancelPlanExecutionInput).PlanArn)}
	},
}

// Every ARC call drctl's client sends, through the SDK, is allowed by the
// DR role's statements, except approving (the approval role's); the
// action function's statements allow what the action handler sends
// (GetPlanExecution) and no move.
func TestEveryARCCallIsAllowedWhereItShouldBe(t *testing.T) {
	cfg := testConfig()
	n := naming.New(cfg.Environment, cfg.DomainName)
	planArn := naming.ARN("arc-region-switch", "", cfg.Account, "plan/"+n.RegionSwitchPlan()+":abc123")
	srv := httptest.NewServer(arcapi.New(&oneExecution{arn: planArn}, arcapi.Plan{Name: n.RegionSwitchPlan(), Regions: cfg.Regions(), PrimaryRegion: cfg.PrimaryRegion}))
	defer srv.Close()
	rec := &opRecorder{}
	awsCfg := aws.Config{Region: cfg.SecondaryRegion, BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("K", "S", ""),
		APIOptions: []func(*middleware.Stack) error{rec.middleware}}
	s := NewRegionSwitch(cfg, awsCfg, cfg.SecondaryRegion)
	ctx := context.Background()
	arn, err := s.PlanARN(ctx, n.RegionSwitchPlan())
	if err != nil || arn != planArn {
		t.Fatalf("plan %q: %v", arn, err)
	}
	x, err := s.Start(ctx, arcexec.StartRequest{PlanArn: arn, TargetRegion: cfg.SecondaryRegion, Action: "activate", Mode: "ungraceful"})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{errOnly(s.Get(ctx, arn, x.ID)), errOnly(s.List(ctx, arn)), s.Approve(ctx, arn, x.ID, "approve", true, "test"), s.Cancel(ctx, arn, x.ID)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	dr := drpolicy.Statements(cfg)
	var action []drpolicy.Statement
	for _, p := range drpolicy.ActionPolicies(cfg) {
		action = append(action, p.Statements...)
	}
	sent := map[string]bool{}
	for _, op := range rec.ops {
		auth, ok := arcAuthorizations[op.Operation]
		if !ok {
			t.Errorf("%s %s has no declared authorization", op.Service, op.Operation)
			continue
		}
		sent[op.Operation] = true
		acc := auth(op)
		wantDR := op.Operation != "ApprovePlanExecutionStep"
		wantAction := op.Operation == "GetPlanExecution"
		for _, c := range []struct {
			who  string
			st   []drpolicy.Statement
			want bool
		}{{"the DR role", dr, wantDR}, {"the action function", action, wantAction}} {
			if got := drpolicy.Allows(c.st, acc.Action, acc.Resource, nil); got != c.want {
				t.Errorf("%s: %s on %s allowed=%v, want %v", c.who, acc.Action, acc.Resource, got, c.want)
			}
		}
	}
	for op := range arcAuthorizations {
		if !sent[op] {
			t.Errorf("%s was never sent", op)
		}
	}
}

func errOnly[T any](_ T, err error) error { return err }
