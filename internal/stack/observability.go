package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newAlarmTopic is an encrypted, TLS-only SNS topic mailed to the on-call
// address; every DR alarm notifies one. CloudWatch may publish only for
// alarms of this account (aws:SourceAccount: no confused deputy).
func newAlarmTopic(scope constructs.Construct, name, email, account string, key awskms.IKey) awssns.Topic {
	topic := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
		TopicName:  jsii.String(name),
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
	}))
	return topic
}

// observabilityProps names what the Region's alarms and dashboard watch.
type observabilityProps struct {
	db    Database
	fn    awslambda.IFunction
	api   API
	topic awssns.ITopic
}

// newObservability creates the Region's alarms and dashboard. Unlike the
// reference, the lag alarm watches the metric where it is emitted (the
// cluster that is currently secondary publishes AuroraGlobalDBReplicationLag;
// both Regions carry the alarm so it keeps working after a switchover),
// every alarm notifies the topic, and every graph has real dimensions.
func newObservability(scope constructs.Construct, r region, p observabilityProps) {
	c := constructs.NewConstruct(scope, jsii.String("Observability"))
	clusterID := r.names.ClusterID(r.name)
	period := awscdk.Duration_Minutes(jsii.Number(1))
	metric := func(ns, name, stat string, dims map[string]*string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(ns), MetricName: jsii.String(name), Statistic: jsii.String(stat),
			DimensionsMap: &dims, Period: period,
		})
	}
	lag := metric("AWS/RDS", "AuroraGlobalDBReplicationLag", "Maximum", map[string]*string{"DBClusterIdentifier": jsii.String(clusterID)})
	ddbLag := metric("AWS/DynamoDB", "ReplicationLatency", "Maximum", map[string]*string{
		"TableName": jsii.String(r.names.SessionTable()), "ReceivingRegion": jsii.String(r.peer)})
	fnErrors := p.fn.MetricErrors(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")})
	fnDuration := p.fn.MetricDuration(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("p99")})
	api5xx := p.api.Api.MetricServerError(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")})
	cpu := metric("AWS/RDS", "CPUUtilization", "Maximum", map[string]*string{"DBClusterIdentifier": jsii.String(clusterID)})
	conns := metric("AWS/RDS", "DatabaseConnections", "Maximum", map[string]*string{"DBClusterIdentifier": jsii.String(clusterID)})

	budgetMs := float64(r.cfg.Objectives.LagBudgetSeconds * 1000)
	alarms := []struct {
		id, desc  string
		metric    awscloudwatch.IMetric
		threshold float64
		periods   float64
	}{
		{"AuroraReplicationLag", "Aurora global replication lag into " + r.name + " is over the lag budget (ms)", lag, budgetMs, 3},
		{"DynamoReplicationLatency", "DynamoDB replication latency " + r.name + " -> " + r.peer + " is over the lag budget (ms)", ddbLag, budgetMs, 3},
		{"LambdaErrors", "the payment Lambda in " + r.name + " is failing", fnErrors, 5, 3},
		{"Api5xx", "the payment API in " + r.name + " returns 5xx", api5xx, 10, 3},
	}
	action := awscloudwatchactions.NewSnsAction(p.topic)
	for _, a := range alarms {
		alarm := awscloudwatch.NewAlarm(c, jsii.String(a.id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(r.names.RegionalAlarm(a.id, r.name)),
			AlarmDescription:   jsii.String(a.desc),
			Metric:             a.metric,
			Threshold:          jsii.Number(a.threshold),
			EvaluationPeriods:  jsii.Number(a.periods),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
	}

	graph := func(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12)})
	}
	awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(r.names.Dashboard(r.name)),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{graph("Aurora global replication lag (ms) - "+clusterID, lag), graph("DynamoDB replication latency (ms) -> "+r.peer, ddbLag)},
			{graph("Aurora CPU and connections - "+clusterID, cpu, conns), graph("Payment Lambda errors and p99 duration", fnErrors, fnDuration)},
			{graph("Payment API 5xx", api5xx)},
		},
	})
}
