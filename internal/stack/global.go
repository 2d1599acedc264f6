package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/config"
	// DRPOLICY "github.com/payment-dr/payment-dr/internal/drpolicy"
)

// GlobalRegion hosts the global stack. Route 53 publishes health-check
// metrics only in us-east-1, so the alarms on them must live there,
// whichever Regions the service runs in.
const GlobalRegion = "us-east-1"

// Global holds what the Regional stacks need from the global stack.
type Global struct {
	Stack        awscdk.Stack
	Zone         awsroute53.PublicHostedZone
	HealthChecks map[string]*string // Region -> health-check id
	DRRole       awsiam.Role
}

// newGlobalStack creates the environment-wide resources: the hosted zone,
// one HTTPS health check per Region on that Region's real /health, alarms
// on them, and the DR automation role drctl assumes.
func newGlobalStack(scope constructs.Construct, cfg config.Config) Global {
	r := newRegion(cfg, GlobalRegion)
	st := awscdk.NewStack(scope, jsii.String("PaymentDr-"+cfg.Environment+"-global"), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(GlobalRegion)},
		Description:           jsii.String("payment-dr " + cfg.Environment + ": hosted zone, health checks, DR automation role"),
		CrossRegionReferences: jsii.Bool(true),
		TerminationProtection: jsii.Bool(cfg.DeletionProtected()),
	})
	zone := awsroute53.NewPublicHostedZone(st, jsii.String("Zone"), &awsroute53.PublicHostedZoneProps{
		ZoneName: jsii.String(r.names.ZoneName()),
		Comment:  jsii.String("payment-dr " + cfg.Environment),
	})
	key := newRegionKey(st, r)
	topic := newAlarmTopic(st, "payment-dr-alarms-global-"+cfg.Environment, cfg.AlarmEmail, key)

	g := Global{Stack: st, Zone: zone, HealthChecks: map[string]*string{}}
	for _, region := range cfg.Regions() {
		hc := awsroute53.NewCfnHealthCheck(st, jsii.String("HealthCheck-"+region), &awsroute53.CfnHealthCheckProps{
			HealthCheckConfig: &awsroute53.CfnHealthCheck_HealthCheckConfigProperty{
				Type:                     jsii.String("HTTPS"),
				FullyQualifiedDomainName: jsii.String(r.names.RegionalAPIHost(region)),
				Port:                     jsii.Number(443),
				ResourcePath:             jsii.String("/health"),
				RequestInterval:          jsii.Number(30),
				FailureThreshold:         jsii.Number(3),
				EnableSni:                jsii.Bool(true),
				MeasureLatency:           jsii.Bool(true),
			},
			HealthCheckTags: &[]*awsroute53.CfnHealthCheck_HealthCheckTagProperty{
				{Key: jsii.String("Name"), Value: jsii.String("payment-api-" + region + "-" + cfg.Environment)},
				{Key: jsii.String("payment-dr:region"), Value: jsii.String(region)},
			},
		})
		g.HealthChecks[region] = hc.AttrHealthCheckId()
		alarm := awscloudwatch.NewAlarm(st, jsii.String("HealthAlarm-"+region), &awscloudwatch.AlarmProps{
			AlarmName:        jsii.String("payment-health-" + region + "-" + cfg.Environment),
			AlarmDescription: jsii.String("Route 53 sees the payment API in " + region + " unhealthy (it cannot take writes)"),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String("AWS/Route53"), MetricName: jsii.String("HealthCheckStatus"),
				DimensionsMap: &map[string]*string{"HealthCheckId": hc.AttrHealthCheckId()},
				Statistic:     jsii.String("Minimum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
			}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(2),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
		})
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		alarm.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
	}
	g.DRRole = newDRRole(st, r)
	awscdk.NewCfnOutput(st, jsii.String("ZoneId"), &awscdk.CfnOutputProps{Value: zone.HostedZoneId()})
	awscdk.NewCfnOutput(st, jsii.String("ZoneNameServers"), &awscdk.CfnOutputProps{Value: awscdk.Fn_Join(jsii.String(","), zone.HostedZoneNameServers())})
	awscdk.NewCfnOutput(st, jsii.String("DRRoleArn"), &awscdk.CfnOutputProps{Value: g.DRRole.RoleArn()})
	return g
}

// newDRRole is the role drctl assumes. Its permissions are exactly
// drpolicy.Statements, the list drctl evaluate simulates: one source of
// truth, each statement scoped to the named resources. Principals of this
// account may assume it when their own policy allows; MFA is required.
func newDRRole(scope constructs.Construct, r region) awsiam.Role {
	role := awsiam.NewRole(scope, jsii.String("DRAutomationRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(r.names.DRRole()),
		Description:        jsii.String("drctl: switchover, failover and drills of payment-dr " + r.cfg.Environment),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(2)),
		AssumedBy: awsiam.NewAccountPrincipal(jsii.String(r.cfg.Account)).WithConditions(&map[string]any{
			"Bool": map[string]any{"aws:MultiFactorAuthPresent": "true"},
		}),
	})
	var statements []*awsiam.PolicyStatementProps
	for _, s := range drStatementsTODO(r.cfg) {
		statements = append(statements, &awsiam.PolicyStatementProps{
			Sid: jsii.String(s.Sid), Actions: jsii.Strings(s.Actions...), Resources: jsii.Strings(s.Resources...),
		})
	}
	managedPolicy(scope, "DRAutomationPolicy", role, statements...)
	return role
}

// putParameter writes a plain String SSM parameter (never a secret).
func putParameter(scope constructs.Construct, id, name string, value *string) {
	awsssm.NewStringParameter(scope, jsii.String(id), &awsssm.StringParameterProps{
		ParameterName: jsii.String(name),
		StringValue:   value,
		Tier:          awsssm.ParameterTier_STANDARD,
	})
}
