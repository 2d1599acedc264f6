package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/naming"
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
// on them, the DR automation role drctl assumes, and drctl evaluate on a
// schedule.
func newGlobalStack(scope constructs.Construct, cfg config.Config, evaluateAsset string) Global {
	r := newRegion(cfg, GlobalRegion)
	st := awscdk.NewStack(scope, jsii.String(r.names.GlobalStack()), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(GlobalRegion)},
		Description:           jsii.String("payment-dr " + cfg.Environment + ": hosted zone, health checks, DR automation role"),
		CrossRegionReferences: jsii.Bool(true),
		TerminationProtection: jsii.Bool(cfg.DeletionProtected()),
	})
	zone := awsroute53.NewPublicHostedZone(st, jsii.String("Zone"), &awsroute53.PublicHostedZoneProps{
		ZoneName: jsii.String(r.names.ZoneName()),
		Comment:  jsii.String("payment-dr " + cfg.Environment),
	})
	delegate(st, r, zone)
	key := newRegionKey(st, r, "global")
	topic := newAlarmTopic(st, r.names.GlobalAlarmTopic(), cfg.AlarmEmail, cfg.Account, key)

	g := Global{Stack: st, Zone: zone, HealthChecks: map[string]*string{}}
	statuses := map[string]awscloudwatch.IMetric{}
	for _, region := range cfg.Regions() {
		hc := awsroute53.NewCfnHealthCheck(st, jsii.String("HealthCheck-"+region), &awsroute53.CfnHealthCheckProps{
			HealthCheckConfig: &awsroute53.CfnHealthCheck_HealthCheckConfigProperty{
				Type:                     jsii.String("HTTPS"),
				FullyQualifiedDomainName: jsii.String(r.names.RegionalAPIHost(region)),
				Port:                     jsii.Number(443),
				ResourcePath:             jsii.String("/health"),
				// 10 s x 3 detects a lost Region in 30 s (the reference's
				// 30 s x 3 took 90 s of a 2-minute RTO budget).
				RequestInterval:  jsii.Number(10),
				FailureThreshold: jsii.Number(3),
				EnableSni:        jsii.Bool(true),
				MeasureLatency:   jsii.Bool(true),
			},
			HealthCheckTags: &[]*awsroute53.CfnHealthCheck_HealthCheckTagProperty{
				{Key: jsii.String("Name"), Value: jsii.String(r.names.HealthCheck(region))},
				{Key: jsii.String(naming.HealthCheckRegionTag), Value: jsii.String(region)},
			},
		})
		g.HealthChecks[region] = hc.AttrHealthCheckId()
		statuses[region] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Route53"), MetricName: jsii.String("HealthCheckStatus"),
			DimensionsMap: &map[string]*string{"HealthCheckId": hc.AttrHealthCheckId()},
			Statistic:     jsii.String("Minimum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		})
	}
	newWriterAlarms(st, r, statuses, topic)
	ids := g.drIDs()
	g.DRRole = newDRRole(st, r, ids)
	newScheduledEvaluate(st, r, evaluateProps{key: key, topic: topic, drRole: g.DRRole, ids: ids, assetDir: evaluateAsset})
	awscdk.NewCfnOutput(st, jsii.String("ZoneId"), &awscdk.CfnOutputProps{Value: zone.HostedZoneId()})
	awscdk.NewCfnOutput(st, jsii.String("ZoneNameServers"), &awscdk.CfnOutputProps{Value: awscdk.Fn_Join(jsii.String(","), zone.HostedZoneNameServers())})
	awscdk.NewCfnOutput(st, jsii.String("DRRoleArn"), &awscdk.CfnOutputProps{Value: g.DRRole.RoleArn()})
	return g
}

// drIDs are the zone and health-check ids the DR statements name, as
// tokens: the global stack's own resources, or references to them from
// another stack.
func (g Global) drIDs() drpolicy.IDs {
	ids := drpolicy.IDs{ZoneID: *g.Zone.HostedZoneId(), HealthChecks: map[string]string{}}
	for region, id := range g.HealthChecks {
		ids.HealthChecks[region] = *id
	}
	return ids
}

// delegate creates the NS record of the environment's zone in the parent
// zone when the configuration names it (parentHostedZoneId): ACM validates
// the Regional stacks' certificates through the new zone only once the
// parent delegates to it, so without this record the first deploy of a
// Regional stack would wait on its certificate until someone delegates by
// hand (the staged deploy in README does that between the stacks).
func delegate(st awscdk.Stack, r region, zone awsroute53.IPublicHostedZone) {
	if r.cfg.ParentHostedZoneID == "" {
		return
	}
	parent := awsroute53.HostedZone_FromHostedZoneAttributes(st, jsii.String("ParentZone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(r.cfg.ParentHostedZoneID),
		ZoneName:     jsii.String(r.cfg.DomainName),
	})
	awsroute53.NewZoneDelegationRecord(st, jsii.String("Delegation"), &awsroute53.ZoneDelegationRecordProps{
		Zone:        parent,
		RecordName:  jsii.String(r.names.ZoneName() + "."),
		NameServers: zone.HostedZoneNameServers(),
		Ttl:         awscdk.Duration_Hours(jsii.Number(1)),
		Comment:     jsii.String("delegates payment-dr " + r.cfg.Environment + " (stack " + r.names.GlobalStack() + ")"),
	})
}

// newWriterAlarms watches the pair of health checks. /health is 200 only
// where the database accepts writes, so exactly one Region is healthy in
// normal operation and a per-Region alarm would fire forever on the
// standby. What matters is: no Region can take payments (an outage, or a
// failover in progress), or both claim the writer (split brain).
func newWriterAlarms(scope constructs.Construct, r region, statuses map[string]awscloudwatch.IMetric, topic awssns.ITopic) {
	cfg := r.cfg
	using := map[string]awscloudwatch.IMetric{"p": statuses[cfg.PrimaryRegion], "s": statuses[cfg.SecondaryRegion]}
	for _, a := range []struct {
		id, name, desc, expr string
		threshold            float64
		op                   awscloudwatch.ComparisonOperator
		// missing health data means nobody can see a writable Region (an
		// outage for the first alarm), but is no evidence of two writers.
		missing awscloudwatch.TreatMissingData
	}{
		{"NoWritableRegion", r.names.NoWritableRegionAlarm(), "no Region accepts payments: run drctl status, then failover", "MAX([p, s])", 1, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, awscloudwatch.TreatMissingData_BREACHING},
		{"TwoWritableRegions", r.names.TwoWritableRegionsAlarm(), "both Regions report a writable database: investigate before any failover", "p + s", 1, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING},
	} {
		alarm := awscloudwatch.NewAlarm(scope, jsii.String(a.id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(a.name),
			AlarmDescription:   jsii.String(a.desc),
			Metric:             awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{Expression: jsii.String(a.expr), UsingMetrics: &using, Period: awscdk.Duration_Minutes(jsii.Number(1))}),
			Threshold:          jsii.Number(a.threshold),
			EvaluationPeriods:  jsii.Number(2),
			ComparisonOperator: a.op,
			TreatMissingData:   a.missing,
		})
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		alarm.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
	}
}

// newDRRole is the role drctl assumes. Its permissions are exactly
// drpolicy.Statements, the list drctl evaluate simulates: one source of
// truth, each statement scoped to the named resources, attached as one
// managed policy per drpolicy.Policies (IAM's 6,144-character limit per
// policy). Principals of this account may assume it when their own
// policy allows; MFA is required.
func newDRRole(scope constructs.Construct, r region, ids drpolicy.IDs) awsiam.Role {
	role := awsiam.NewRole(scope, jsii.String("DRAutomationRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(r.names.DRRole()),
		Description:        jsii.String("drctl: switchover, failover and drills of payment-dr " + r.cfg.Environment),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(2)),
		AssumedBy: awsiam.NewAccountPrincipal(jsii.String(r.cfg.Account)).WithConditions(&map[string]any{
			"Bool": map[string]any{"aws:MultiFactorAuthPresent": "true"},
		}),
	})
	for _, p := range drpolicy.Policies(r.cfg, ids) {
		policy := managedPolicy(scope, p.Name, role, policyStatements(p.Statements)...)
		suppressDRWildcards(policy, r, "CloudWatch GetMetricData has no resource-level scope")
	}
	return role
}

// policyStatements turns drpolicy's statements, conditions included, into
// CDK statements: the role's policy is exactly what evaluate simulates.
func policyStatements(list []drpolicy.Statement) []*awsiam.PolicyStatementProps {
	var out []*awsiam.PolicyStatementProps
	for _, s := range list {
		p := &awsiam.PolicyStatementProps{Sid: jsii.String(s.Sid), Actions: jsii.Strings(s.Actions...), Resources: jsii.Strings(s.Resources...)}
		if c := s.ConditionMap(); c != nil {
			p.Conditions = &c
		}
		out = append(out, p)
	}
	return out
}

// suppressDRWildcards names the wildcard resources of drpolicy's
// statements for cdk-nag's IAM5, with why each cannot be narrower.
func suppressDRWildcards(policy awsiam.ManagedPolicy, r region, why string) {
	acct := r.cfg.Account
	applies := []string{
		"Resource::*",
		"Resource::" + naming.SecretARNPattern(r.cfg.PrimaryRegion, acct, r.names.APIKeySecretName()),
		"Resource::" + naming.SecretARNPattern(r.cfg.SecondaryRegion, acct, r.names.APIKeySecretName()),
		"Resource::" + naming.KeysARNPattern(r.cfg.PrimaryRegion, acct),
		"Resource::" + naming.KeysARNPattern(r.cfg.SecondaryRegion, acct),
		"Resource::" + r.names.RegionSwitchPlanARNPattern(acct),
	}
	for _, region := range r.cfg.Regions() {
		for _, arn := range r.names.LostWritesSnapshotARNs(region, acct) {
			applies = append(applies, "Resource::"+arn)
		}
	}
	suppress(policy, "AwsSolutions-IAM5", why+"; the API-key secret is matched by exact name with Secrets Manager's six-character suffix; "+
		"kms:Decrypt covers the primary Region's keys because the key's id is created after this stack, and is limited by kms:ViaService to Secrets Manager, which the GetSecretValue statement limits to the API key; "+
		"kms:CreateGrant/DescribeKey cover each Region's keys for the same reason, limited by kms:ViaService to RDS in that Region (copying and restoring the kept encrypted snapshot); "+
		"the kept-snapshot patterns end in a wildcard because Aurora names its unplanned-failover snapshot with the time of the failover "+
		"(rds:unplanned-global-failover-<cluster>-<time>) and drctl's copies carry the same time, but the prefix names the one cluster; "+
		"the ARC plan's ARN ends in a six-character suffix ARC chooses at creation (ARC API Reference, Plan.arn), matched by the plan's exact name and \":*\"; "+
		"ListPlansInRegion has no resource type (Service Authorization Reference, Amazon ARC Region switch) and only lists the account's plans",
		applies...)
}

// putParameter writes a plain String SSM parameter (never a secret).
func putParameter(scope constructs.Construct, id, name string, value *string) {
	awsssm.NewStringParameter(scope, jsii.String(id), &awsssm.StringParameterProps{
		ParameterName: jsii.String(name),
		StringValue:   value,
		Tier:          awsssm.ParameterTier_STANDARD,
	})
}
