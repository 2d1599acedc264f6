package stack

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// evaluateProps carries what the scheduled evaluation needs.
type evaluateProps struct {
	key      awskms.IKey
	topic    awssns.ITopic
	drRole   awsiam.IRole
	ids      drpolicy.IDs
	assetDir string // directory holding the built drctl-evaluate bootstrap
}

// newScheduledEvaluate runs drctl's evaluate every 15 minutes as a Lambda
// (the same code as the CLI) and alarms when it finds a problem, or when it
// stops reporting: a broken DR plan is found before it is needed. Its role
// may only read: the read-only part of drpolicy plus publishing its metric.
func newScheduledEvaluate(scope constructs.Construct, r region, p evaluateProps) {
	c := constructs.NewConstruct(scope, jsii.String("ScheduledEvaluate"))
	name := r.names.EvaluateFunction()
	base := newLambdaBase(c, r, name, "scheduled drctl evaluate: read-only view of the DR plan", p.key)
	logs, role := base.logs, base.role
	statements := []*awsiam.PolicyStatementProps{
		base.logsAccess,
		// PutMetricData has no resource scope; the namespace condition limits it.
		{Sid: jsii.String("Metric"), Actions: jsii.Strings("cloudwatch:PutMetricData"), Resources: jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": naming.MetricNamespace}}},
	}
	policies := []awsiam.ManagedPolicy{managedPolicy(c, "Policy", role, statements...)}
	suppress(policies[0], "AwsSolutions-IAM5", "CloudWatch PutMetricData has no resource-level scope; the condition limits it to the PaymentDR namespace", "Resource::*")
	// The read-only part of each DR policy, one managed policy each as for
	// the DR role: together they would come near IAM's 6,144 characters.
	for _, dp := range drpolicy.Policies(r.cfg, p.ids) {
		if ro := drpolicy.ReadOnly(dp.Statements); len(ro) > 0 {
			policy := managedPolicy(c, dp.Name, role, policyStatements(ro)...)
			suppressDRWildcards(policy, r, "CloudWatch GetMetricData has no resource-level scope")
			policies = append(policies, policy)
		}
	}

	cfgJSON, _ := json.Marshal(r.cfg) // the validated config; it holds no secret
	props := goFunction(name, "drctl evaluate, every 15 minutes", p.assetDir, role, logs)
	props.MemorySize = jsii.Number(256)
	props.Timeout = awscdk.Duration_Minutes(jsii.Number(2))
	props.Environment = &map[string]*string{
		naming.DRConfigEnv: jsii.String(string(cfgJSON)),
		"DR_ROLE_ARN":      p.drRole.RoleArn(),
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), props)
	for _, policy := range policies {
		fn.Node().AddDependency(policy)
	}
	suppress(fn, "PCI.DSS.321-LambdaInsideVPC", "The evaluator reads AWS control-plane APIs and probes the public /health names, as Route 53 does; it handles no payment data, and a VPC would add a NAT dependency to the check meant to survive a Regional impairment")

	awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		RuleName: jsii.String(name), Description: jsii.String("run drctl evaluate every 15 minutes"),
		Schedule: awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(15))),
		Targets:  &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, nil)},
	})
	alarm := awscloudwatch.NewAlarm(c, jsii.String("FindingsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:        jsii.String(r.names.EvaluateFindingsAlarm()),
		AlarmDescription: jsii.String("drctl evaluate found a problem with the DR plan (see its log), or stopped reporting"),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(naming.MetricNamespace), MetricName: jsii.String(naming.EvaluateFindingsMetric),
			DimensionsMap: &map[string]*string{naming.EnvironmentDimension: jsii.String(r.cfg.Environment)},
			Statistic:     jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(15)),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(2),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(p.topic))
	alarm.AddOkAction(awscloudwatchactions.NewSnsAction(p.topic))
}
