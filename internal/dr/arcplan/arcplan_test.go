package arcplan_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
)

func names(p plan.Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Name)
	}
	return out
}

// runs lists the drctl steps the workflow runs for kind, in order; two
// ARC steps standing for one drctl step (mark-move and the Aurora block
// both stand for the move) count once.
func runs(specs []arcplan.StepSpec, kind string, graceful bool) []string {
	var out []string
	for _, s := range specs {
		name, ok := s.Runs[kind]
		if !ok || (!graceful && s.GracefulOnly) {
			continue
		}
		if len(out) > 0 && out[len(out)-1] == name {
			continue
		}
		out = append(out, name)
	}
	return out
}

// The plan ARC runs holds drctl's steps in drctl's order, for each of the
// three plans it stands for.
func TestTheWorkflowsRunDrctlsStepsInDrctlsOrder(t *testing.T) {
	cfg := devConfig()
	for _, auto := range []bool{false, true} {
		cfg.AutoFailover = auto
		c := &dr.Controller{Cfg: cfg}
		target, old := cfg.SecondaryRegion, cfg.PrimaryRegion
		for _, tc := range []struct {
			kind     string
			graceful bool
			specs    []arcplan.StepSpec
			want     plan.Plan
		}{
			{arcplan.KindSwitchover, true, arcplan.ActivateSteps(cfg), c.Switchover(target)},
			{arcplan.KindFailover, false, arcplan.ActivateSteps(cfg), c.Failover(target, true)},
			{arcplan.KindRejoin, true, arcplan.RejoinSteps(), c.Rejoin(old)},
		} {
			if got, want := runs(tc.specs, tc.kind, tc.graceful), names(tc.want); !slices.Equal(got, want) {
				t.Errorf("autoFailover=%v %s: ARC runs\n  %v\ndrctl runs\n  %v", auto, tc.kind, got, want)
			}
		}
	}
}

// A step ARC skips in ungraceful mode must not be one the failover needs.
func TestGracefulOnlyStepsAreNotInTheFailover(t *testing.T) {
	for _, s := range arcplan.ActivateSteps(devConfig()) {
		if _, ok := s.Runs[arcplan.KindFailover]; ok && s.GracefulOnly {
			t.Errorf("%s is skipped in ungraceful mode but runs %s in the failover", s.Name, s.Runs[arcplan.KindFailover])
		}
	}
}

func TestApprovalGatesTheActivateWorkflowUnlessAutoFailover(t *testing.T) {
	cfg := devConfig()
	p := arcplan.Build(cfg, arcplan.Inputs{HostedZoneID: "Z0123456789ABCDEFGHIJ"})
	first := p.Workflows[0].Steps[0]
	if first.ExecutionBlockType != arcplan.BlockApproval || first.ExecutionBlockConfiguration.ExecutionApprovalConfig == nil {
		t.Fatalf("first activate step = %+v, want the manual approval", first)
	}
	cfg.AutoFailover = true
	p = arcplan.Build(cfg, arcplan.Inputs{HostedZoneID: "Z0123456789ABCDEFGHIJ"})
	for _, w := range p.Workflows {
		for _, s := range w.Steps {
			if s.ExecutionBlockType == arcplan.BlockApproval {
				t.Errorf("autoFailover: %s still has an approval step", w.WorkflowTargetAction)
			}
		}
	}
}

// Field limits from the ARC API Reference (CreatePlan, Trigger, Step,
// CustomActionLambdaConfiguration) and the AWS::ARCRegionSwitch::Plan
// schema: a name of 1-32 [a-zA-Z0-9-], exactly two Regions, 1-10
// trigger conditions, step names unique in a workflow, RTO 1-10080
// minutes, report bucket path 3-512 characters.
func TestThePlanIsWithinARCsDocumentedLimits(t *testing.T) {
	cfg := devConfig()
	p := arcplan.Build(cfg, arcplan.Inputs{HostedZoneID: "Z0123456789ABCDEFGHIJ"})
	if len(p.Name) < 1 || len(p.Name) > 32 || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		t.Errorf("plan name %q", p.Name)
	}
	if len(p.Regions) != 2 || p.RecoveryTimeObjectiveMinutes < 1 || p.RecoveryTimeObjectiveMinutes > 10080 {
		t.Errorf("regions %v, RTO %v min", p.Regions, p.RecoveryTimeObjectiveMinutes)
	}
	if p.RecoveryTimeObjectiveMinutes != float64((cfg.Objectives.RTOSeconds+59)/60) {
		t.Errorf("RTO %v min from rtoSeconds %d", p.RecoveryTimeObjectiveMinutes, cfg.Objectives.RTOSeconds)
	}
	for _, tr := range p.Triggers {
		if len(tr.Conditions) < 1 || len(tr.Conditions) > 10 {
			t.Errorf("trigger %s: %d conditions", tr.TargetRegion, len(tr.Conditions))
		}
		for _, c := range tr.Conditions {
			if _, ok := p.AssociatedAlarms[c.AssociatedAlarmName]; !ok {
				t.Errorf("trigger %s names alarm %q the plan does not associate", tr.TargetRegion, c.AssociatedAlarmName)
			}
		}
	}
	if bp := p.ReportConfiguration.ReportOutput[0].S3Configuration.BucketPath; len(bp) < 3 || len(bp) > 512 {
		t.Errorf("bucket path %q", bp)
	}
	for _, w := range p.Workflows {
		seen := map[string]bool{}
		for _, s := range w.Steps {
			if seen[s.Name] {
				t.Errorf("%s: step %s twice", w.WorkflowTargetAction, s.Name)
			}
			seen[s.Name] = true
			if c := s.ExecutionBlockConfiguration.CustomActionLambdaConfig; c != nil && (len(c.Lambdas) < 1 || len(c.Lambdas) > 2) {
				t.Errorf("%s: %d functions (1-2)", s.Name, len(c.Lambdas))
			}
		}
	}
	// The template's JSON decodes back into the same plan (the lab reads it).
	b, _ := json.Marshal(p)
	var back arcplan.Plan
	if err := json.Unmarshal(b, &back); err != nil || len(back.Workflows) != 2 || len(back.Workflows[0].Steps) != len(p.Workflows[0].Steps) {
		t.Errorf("round trip: %v", err)
	}
}

func devConfig() config.Config {
	cfg := config.Default()
	cfg.Environment, cfg.DomainName = "dev", "example.com"
	return cfg
}
