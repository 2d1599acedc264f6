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

	"github.com/payment-dr/payment-dr/internal/naming"
)

// probeProps carries what a Region's probe needs.
type probeProps struct {
	key      awskms.IKey
	topic    awssns.ITopic
	assetDir string // the drctl-evaluate bootstrap, run in probe mode
}

// newRegionProbe is detection that survives the Region it watches: the
// "no writable Region" alarm of the global stack lives in us-east-1 with
// Route 53's metrics, so it is evaluated in the Region whose loss it
// should report. Each Region therefore probes every Region's /health from
// outside every minute (drctl-evaluate in probe mode, outside any VPC, as
// Route 53 probes) and alarms to its own topic when it sees no writable
// Region, or two.
func newRegionProbe(scope constructs.Construct, r region, p probeProps) {
	c := constructs.NewConstruct(scope, jsii.String("RegionProbe"))
	name := r.names.ProbeFunction(r.name)
	base := newLambdaBase(c, r, name, "probe of every Region's /health from "+r.name+": writes its logs and one metric", p.key)
	logs, role := base.logs, base.role
	policy := managedPolicy(c, "Policy", role, base.logsAccess,
		// PutMetricData has no resource scope; the namespace condition limits it.
		&awsiam.PolicyStatementProps{Sid: jsii.String("Metric"), Actions: jsii.Strings("cloudwatch:PutMetricData"), Resources: jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": naming.MetricNamespace}}},
	)
	suppress(policy, "AwsSolutions-IAM5", "cloudwatch:PutMetricData has no resource-level scope; the cloudwatch:namespace condition limits it to the PaymentDR namespace", "Resource::*")

	cfgJSON, _ := json.Marshal(r.cfg) // the validated config; it holds no secret
	props := goFunction(name, "probe of every Region's /health from "+r.name+", every minute", p.assetDir, role, logs)
	props.MemorySize = jsii.Number(128)
	props.Timeout = awscdk.Duration_Seconds(jsii.Number(30))
	props.Environment = &map[string]*string{
		naming.DRConfigEnv:      jsii.String(string(cfgJSON)),
		naming.EvaluatorModeEnv: jsii.String(naming.EvaluatorModeProbe),
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), props)
	fn.Node().AddDependency(policy)
	suppress(fn, "PCI.DSS.321-LambdaInsideVPC", "The probe calls the public /health names of both Regions, as Route 53 does; it handles no payment data, and a VPC would add a NAT dependency to the check meant to survive a Regional impairment")

	awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		RuleName: jsii.String(name), Description: jsii.String("probe every Region's /health from " + r.name),
		Schedule: awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:  &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, nil)},
	})
	metric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(naming.MetricNamespace), MetricName: jsii.String(naming.WritableRegionsMetric),
		DimensionsMap: &map[string]*string{
			naming.EnvironmentDimension:    jsii.String(r.cfg.Environment),
			naming.ObserverRegionDimension: jsii.String(r.name),
		},
		Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	for _, a := range []struct {
		id, name, desc string
		threshold      float64
		op             awscloudwatch.ComparisonOperator
		// A silent probe is no evidence of two writers; for the first
		// alarm it means this Region cannot see a writable one either.
		missing awscloudwatch.TreatMissingData
	}{
		{"NoWritableRegionSeen", r.names.NoWritableRegionSeenAlarm(r.name), "seen from " + r.name + ": no Region's /health reports a writable database: run drctl status, then failover", 1, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, awscloudwatch.TreatMissingData_BREACHING},
		{"TwoWritableRegionsSeen", r.names.TwoWritableRegionsSeenAlarm(r.name), "seen from " + r.name + ": both Regions report a writable database: investigate (drctl evaluate, drctl rejoin)", 1, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING},
	} {
		alarm := awscloudwatch.NewAlarm(c, jsii.String(a.id), &awscloudwatch.AlarmProps{
			AlarmName: jsii.String(a.name), AlarmDescription: jsii.String(a.desc), Metric: metric,
			Threshold: jsii.Number(a.threshold), EvaluationPeriods: jsii.Number(2), ComparisonOperator: a.op, TreatMissingData: a.missing,
		})
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(p.topic))
		alarm.AddOkAction(awscloudwatchactions.NewSnsAction(p.topic))
	}
}
