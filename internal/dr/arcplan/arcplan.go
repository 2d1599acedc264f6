// Package arcplan is drctl's plans written as one Amazon ARC Region switch
// plan (AWS::ARCRegionSwitch::Plan): the global stack synthesizes it, the
// drctl-action function runs its custom-action steps with drctl's own step
// code, and the DR lab executes it from the synthesized template. The
// types mirror the CloudFormation resource's properties (field names and
// nesting as in the AWS CloudFormation Template Reference,
// AWS::ARCRegionSwitch::Plan), so a template decodes into them as is.
package arcplan

import (
	"fmt"
	"math"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Execution block types (ARC API Reference, Step.executionBlockType).
const (
	BlockLambda   = "CustomActionLambda"
	BlockApproval = "ManualApproval"
	BlockAurora   = "AuroraGlobalDatabase"
	BlockRoute53  = "Route53HealthCheck"
)

// Workflow target actions (ARC API Reference, Workflow.workflowTargetAction).
const (
	Activate     = "activate"
	PostRecovery = "postRecovery"
)

// Execution modes (ARC API Reference, StartPlanExecution.mode).
const (
	Graceful   = "graceful"
	Ungraceful = "ungraceful"
)

// Regions a custom action runs in (ARC API Reference,
// CustomActionLambdaConfiguration.regionToRun).
const (
	RunInActivating = "activatingRegion"
	RunInActive     = "activeRegion"
)

// drctl plan kinds an ARC execution stands for.
const (
	KindSwitchover = "switchover" // activate, graceful
	KindFailover   = "failover"   // activate, ungraceful (AllowDataLoss)
	KindRejoin     = "rejoin"     // postRecovery
)

// Plan is the AWS::ARCRegionSwitch::Plan resource's properties.
type Plan struct {
	Name                         string                     `json:"Name"`
	Description                  string                     `json:"Description,omitempty"`
	ExecutionRole                string                     `json:"ExecutionRole"`
	PrimaryRegion                string                     `json:"PrimaryRegion,omitempty"`
	Regions                      []string                   `json:"Regions"`
	RecoveryApproach             string                     `json:"RecoveryApproach"`
	RecoveryTimeObjectiveMinutes float64                    `json:"RecoveryTimeObjectiveMinutes,omitempty"`
	AssociatedAlarms             map[string]AssociatedAlarm `json:"AssociatedAlarms,omitempty"`
	Triggers                     []Trigger                  `json:"Triggers,omitempty"`
	ReportConfiguration          *ReportConfiguration       `json:"ReportConfiguration,omitempty"`
	Workflows                    []Workflow                 `json:"Workflows"`
}

// AssociatedAlarm is a CloudWatch alarm the plan watches.
type AssociatedAlarm struct {
	AlarmType          string `json:"AlarmType"` // trigger | applicationHealth
	ResourceIdentifier string `json:"ResourceIdentifier"`
}

// Trigger starts an execution when its alarms are in the given state.
type Trigger struct {
	Action                           string             `json:"Action"`
	TargetRegion                     string             `json:"TargetRegion"`
	Description                      string             `json:"Description,omitempty"`
	MinDelayMinutesBetweenExecutions float64            `json:"MinDelayMinutesBetweenExecutions"`
	Conditions                       []TriggerCondition `json:"Conditions"`
}

// TriggerCondition names an associated alarm and the state that fires.
type TriggerCondition struct {
	AssociatedAlarmName string `json:"AssociatedAlarmName"`
	Condition           string `json:"Condition"` // red | green
}

// ReportConfiguration is where ARC writes its execution reports.
type ReportConfiguration struct {
	ReportOutput []ReportOutput `json:"ReportOutput"`
}

// ReportOutput is one report destination.
type ReportOutput struct {
	S3Configuration S3Report `json:"S3Configuration"`
}

// S3Report is an S3 report destination.
type S3Report struct {
	BucketPath  string `json:"BucketPath"`
	BucketOwner string `json:"BucketOwner,omitempty"`
}

// Workflow is the ordered steps of one action.
type Workflow struct {
	WorkflowTargetAction string `json:"WorkflowTargetAction"`
	WorkflowTargetRegion string `json:"WorkflowTargetRegion,omitempty"`
	WorkflowDescription  string `json:"WorkflowDescription,omitempty"`
	Steps                []Step `json:"Steps"`
}

// Step is one execution block.
type Step struct {
	Name                        string      `json:"Name"`
	Description                 string      `json:"Description,omitempty"`
	ExecutionBlockType          string      `json:"ExecutionBlockType"`
	ExecutionBlockConfiguration BlockConfig `json:"ExecutionBlockConfiguration"`
}

// BlockConfig holds exactly one block's configuration.
type BlockConfig struct {
	CustomActionLambdaConfig *LambdaConfig   `json:"CustomActionLambdaConfig,omitempty"`
	ExecutionApprovalConfig  *ApprovalConfig `json:"ExecutionApprovalConfig,omitempty"`
	GlobalAuroraConfig       *AuroraConfig   `json:"GlobalAuroraConfig,omitempty"`
	Route53HealthCheckConfig *Route53Config  `json:"Route53HealthCheckConfig,omitempty"`
}

// LambdaConfig is a custom action: one function per Region.
type LambdaConfig struct {
	Lambdas              []Lambda        `json:"Lambdas"`
	RegionToRun          string          `json:"RegionToRun"`
	RetryIntervalMinutes float64         `json:"RetryIntervalMinutes"`
	TimeoutMinutes       float64         `json:"TimeoutMinutes,omitempty"`
	Ungraceful           *UngracefulSkip `json:"Ungraceful,omitempty"`
}

// Lambda is a function ARC invokes.
type Lambda struct {
	Arn string `json:"Arn"`
}

// UngracefulSkip: the step is skipped in ungraceful mode (the only
// LambdaUngraceful behavior).
type UngracefulSkip struct {
	Behavior string `json:"Behavior"`
}

// ApprovalConfig is a manual approval.
type ApprovalConfig struct {
	ApprovalRole   string  `json:"ApprovalRole"`
	TimeoutMinutes float64 `json:"TimeoutMinutes,omitempty"`
}

// AuroraConfig moves an Aurora global database's writer: a switchover in
// graceful mode, a failover (data loss allowed) in ungraceful mode.
type AuroraConfig struct {
	Behavior                string            `json:"Behavior"` // switchoverOnly | failover
	GlobalClusterIdentifier string            `json:"GlobalClusterIdentifier"`
	DatabaseClusterArns     []string          `json:"DatabaseClusterArns"`
	TimeoutMinutes          float64           `json:"TimeoutMinutes,omitempty"`
	Ungraceful              *AuroraUngraceful `json:"Ungraceful,omitempty"`
}

// AuroraUngraceful is the Aurora block's ungraceful behavior.
type AuroraUngraceful struct {
	Ungraceful string `json:"Ungraceful"` // failover
}

// Route53Config sets the health checks ARC controls so the failover
// records answer with the activated Region.
type Route53Config struct {
	HostedZoneId   string      `json:"HostedZoneId"`
	RecordName     string      `json:"RecordName"`
	RecordSets     []RecordSet `json:"RecordSets,omitempty"`
	TimeoutMinutes float64     `json:"TimeoutMinutes,omitempty"`
}

// RecordSet maps one failover record to its Region.
type RecordSet struct {
	RecordSetIdentifier string `json:"RecordSetIdentifier"`
	Region              string `json:"Region"`
}

// Inputs are what the plan names that the stack creates: the hosted
// zone's ID is a token at synth time.
type Inputs struct {
	HostedZoneID string
}

// Timing of the custom actions: ARC invokes a step's function again after
// RetryIntervalMinutes while TimeoutMinutes lasts (a drctl step that
// waits returns before its function's timeout and is retried).
const (
	RetryIntervalMinutes = 1
	ApprovalTimeout      = 60
	MinDelayBetweenRuns  = 30
)

// Build writes the environment's plan.
func Build(cfg config.Config, in Inputs) Plan {
	n := naming.New(cfg.Environment, cfg.DomainName)
	p := Plan{
		Name:             n.RegionSwitchPlan(),
		Description:      "payment-dr " + cfg.Environment + ": drctl's switchover, failover and rejoin, run by ARC Region switch",
		ExecutionRole:    naming.RoleARN(cfg.Account, n.RegionSwitchExecutionRole()),
		PrimaryRegion:    cfg.PrimaryRegion,
		Regions:          cfg.Regions(),
		RecoveryApproach: "activePassive",
		// ARC takes whole minutes; the config's RTO is in seconds.
		RecoveryTimeObjectiveMinutes: math.Max(1, math.Ceil(float64(cfg.Objectives.RTOSeconds)/60)),
		AssociatedAlarms:             map[string]AssociatedAlarm{},
		ReportConfiguration: &ReportConfiguration{ReportOutput: []ReportOutput{{S3Configuration: S3Report{
			BucketPath: "s3://" + n.RegionSwitchReportBucket(cfg.Account) + "/" + naming.RegionSwitchReportPrefix, BucketOwner: cfg.Account,
		}}}},
	}
	for _, region := range cfg.Regions() {
		alarm := TriggerAlarmName(n, region)
		p.AssociatedAlarms[alarm] = AssociatedAlarm{AlarmType: "trigger", ResourceIdentifier: naming.AlarmARN(region, cfg.Account, n.NoWritableRegionSeenAlarm(region))}
		p.Triggers = append(p.Triggers, Trigger{
			Action: Activate, TargetRegion: region, MinDelayMinutesBetweenExecutions: MinDelayBetweenRuns,
			Description: "seen from " + region + ": no Region takes payments: activate " + region,
			Conditions:  []TriggerCondition{{AssociatedAlarmName: alarm, Condition: "red"}},
		})
	}
	p.Workflows = []Workflow{
		{WorkflowTargetAction: Activate, WorkflowDescription: "move the writer to the activated Region: drctl switchover (graceful) or failover (ungraceful)", Steps: steps(cfg, in, ActivateSteps(cfg))},
		{WorkflowTargetAction: PostRecovery, WorkflowDescription: "drctl rejoin: make the Region that lost the writer a ready standby", Steps: steps(cfg, in, RejoinSteps())},
	}
	return p
}

// TriggerAlarmName is the plan's name for region's probe alarm.
func TriggerAlarmName(n naming.Names, region string) string {
	return "no-writable-region-seen-from-" + region
}

func steps(cfg config.Config, in Inputs, specs []StepSpec) []Step {
	n := naming.New(cfg.Environment, cfg.DomainName)
	var lambdas []Lambda
	for _, r := range cfg.Regions() {
		lambdas = append(lambdas, Lambda{Arn: naming.FunctionARN(r, cfg.Account, n.ActionFunction(r))})
	}
	var out []Step
	for _, s := range specs {
		st := Step{Name: s.Name, Description: s.Description, ExecutionBlockType: s.Block}
		switch s.Block {
		case BlockLambda:
			c := &LambdaConfig{Lambdas: lambdas, RegionToRun: s.RegionToRun, RetryIntervalMinutes: RetryIntervalMinutes, TimeoutMinutes: s.TimeoutMinutes}
			if s.GracefulOnly {
				c.Ungraceful = &UngracefulSkip{Behavior: "skip"}
			}
			st.ExecutionBlockConfiguration.CustomActionLambdaConfig = c
		case BlockApproval:
			st.ExecutionBlockConfiguration.ExecutionApprovalConfig = &ApprovalConfig{ApprovalRole: naming.RoleARN(cfg.Account, n.RegionSwitchApprovalRole()), TimeoutMinutes: ApprovalTimeout}
		case BlockAurora:
			var arns []string
			for _, r := range cfg.Regions() {
				arns = append(arns, n.ClusterARN(r, cfg.Account))
			}
			st.ExecutionBlockConfiguration.GlobalAuroraConfig = &AuroraConfig{Behavior: "switchoverOnly", GlobalClusterIdentifier: n.GlobalClusterID(),
				DatabaseClusterArns: arns, TimeoutMinutes: s.TimeoutMinutes, Ungraceful: &AuroraUngraceful{Ungraceful: "failover"}}
		case BlockRoute53:
			var sets []RecordSet
			for _, r := range cfg.Regions() {
				sets = append(sets, RecordSet{RecordSetIdentifier: r, Region: r})
			}
			st.ExecutionBlockConfiguration.Route53HealthCheckConfig = &Route53Config{HostedZoneId: in.HostedZoneID, RecordName: n.APIHost(), RecordSets: sets, TimeoutMinutes: s.TimeoutMinutes}
		default:
			panic(fmt.Sprintf("arcplan: unknown block %q", s.Block))
		}
		out = append(out, st)
	}
	return out
}
