package naming

import (
	"fmt"
	"time"
)

// Names of the infrastructure's own resources: stacks, network, alarms and
// the like. Only internal/stack uses most of them; they live here so every
// physical name is spelled once.

// PaymentFunctionTimeout is the payment function's timeout: the stack
// sets it, drctl's synchronous invocation of the function (the journal
// replay) waits longer than it, and the function's journal replay stops
// in time to answer within it.
const PaymentFunctionTimeout = 60 * time.Second

// GlobalStack is the CloudFormation stack of the environment-wide resources.
func (n Names) GlobalStack() string { return "PaymentDr-" + n.Env + "-global" }

// RegionalStack is the CloudFormation stack of one Region.
func (n Names) RegionalStack(region string) string { return "PaymentDr-" + n.Env + "-" + region }

// KeyAlias is the alias of a customer-managed KMS key; purpose keeps it
// unique where two stacks share a Region ("global", "regional").
func (n Names) KeyAlias(purpose string) string {
	return fmt.Sprintf("alias/payment-dr-%s-%s", purpose, n.Env)
}

// VPC is the Region's VPC (its Name tag).
func (n Names) VPC(region string) string { return fmt.Sprintf("payment-vpc-%s-%s", region, n.Env) }

// LambdaSecurityGroup is the payment Lambda's security group.
func (n Names) LambdaSecurityGroup() string { return "payment-lambda-" + n.Env }

// DatabaseSecurityGroup is the Aurora cluster's security group.
func (n Names) DatabaseSecurityGroup() string { return "payment-db-" + n.Env }

// DBSubnetGroup is the Region's Aurora subnet group.
func (n Names) DBSubnetGroup(region string) string { return n.ClusterID(region) }

// ClusterParameterGroup is the Region's Aurora cluster parameter group:
// the members use it, and drctl reconcile restores into it, so the DR
// role is granted this one group, not any.
func (n Names) ClusterParameterGroup(region string) string { return n.ClusterID(region) }

// AuroraMySQLFamily is the parameter group family of the engine: the
// configuration accepts Aurora MySQL 3 only, which is MySQL 8.0.
const AuroraMySQLFamily = "aurora-mysql8.0"

// DefaultDBParameterGroup and DefaultOptionGroup are the groups RDS gives
// an Aurora MySQL 3 cluster and its instances when a request names none
// (RDS API Reference, CreateDBInstance and RestoreDBClusterFromSnapshot:
// "the default ... group for the specified engine"); the stack's
// instances use them, as does the temporary cluster of drctl reconcile.
const (
	DefaultDBParameterGroup = "default." + AuroraMySQLFamily
	DefaultOptionGroup      = "default:aurora-mysql-8-0"
)

// HTTPAPI is the Region's API Gateway HTTP API.
func (n Names) HTTPAPI(region string) string { return fmt.Sprintf("payments-%s-%s", region, n.Env) }

// LambdaLogGroup is the log group Lambda writes a function's logs to.
func LambdaLogGroup(function string) string { return "/aws/lambda/" + function }

// BackupPlan is the Region's daily AWS Backup plan.
func (n Names) BackupPlan(region string) string {
	return fmt.Sprintf("payment-daily-%s-%s", region, n.Env)
}

// BackupRole is the role AWS Backup assumes in the Region.
func (n Names) BackupRole(region string) string {
	return fmt.Sprintf("payment-backup-%s-%s", region, n.Env)
}

// BackupSelection is the plan's tag-based resource selection.
func (n Names) BackupSelection() string { return "backup-daily-tag" }

// BackupTagKey and BackupTagValue mark what the daily plan backs up.
const (
	BackupTagKey   = "Backup"
	BackupTagValue = "daily"
)

// ForwardRule is the EventBridge rule that forwards this Region's payment
// events to the peer's bus.
func (n Names) ForwardRule(region string) string {
	return fmt.Sprintf("payment-forward-%s-%s", region, n.Env)
}

// RegionalAlarm is one of a Region's alarms (id e.g. "LambdaErrors").
func (n Names) RegionalAlarm(id, region string) string {
	return fmt.Sprintf("payment-%s-%s-%s", id, region, n.Env)
}

// Dashboard is the Region's CloudWatch dashboard.
func (n Names) Dashboard(region string) string {
	return fmt.Sprintf("payment-dr-%s-%s", region, n.Env)
}

// GlobalAlarmTopic is the global stack's SNS topic for DR alarms.
func (n Names) GlobalAlarmTopic() string { return "payment-dr-alarms-global-" + n.Env }

// NoWritableRegionAlarm fires when neither Region's /health reports a
// writable database.
func (n Names) NoWritableRegionAlarm() string { return "payment-no-writable-region-" + n.Env }

// TwoWritableRegionsAlarm fires when both do (split brain).
func (n Names) TwoWritableRegionsAlarm() string { return "payment-two-writable-regions-" + n.Env }

// HealthCheck is the Name tag of a Region's Route 53 health check.
func (n Names) HealthCheck(region string) string {
	return fmt.Sprintf("payment-api-%s-%s", region, n.Env)
}

// HealthCheckRegionTag is the tag key naming the Region a health check probes.
const HealthCheckRegionTag = "payment-dr:region"

// EvaluateFunction is the scheduled drctl evaluate Lambda (and its role
// and schedule rule).
func (n Names) EvaluateFunction() string { return "payment-dr-evaluate-" + n.Env }

// EvaluateFindingsAlarm fires on evaluate's findings or its silence.
func (n Names) EvaluateFindingsAlarm() string { return "payment-dr-evaluate-findings-" + n.Env }

// The metric drctl evaluate publishes (dimension Environment).
const (
	MetricNamespace        = "PaymentDR"
	EvaluateFindingsMetric = "EvaluateFindings"
	EnvironmentDimension   = "Environment"
)

// The metric each Region's probe publishes in its own Region: how many
// Regions' /health report a writable database, seen from ObserverRegion.
const (
	WritableRegionsMetric   = "WritableRegions"
	ObserverRegionDimension = "ObserverRegion"
)

// The drctl-evaluate binary runs the probe instead of evaluate when
// EvaluatorModeEnv is EvaluatorModeProbe (one asset for both functions).
const (
	EvaluatorModeEnv   = "DRCTL_EVALUATE_MODE"
	EvaluatorModeProbe = "probe"
)

// ProbeFunction is the Region's scheduled probe of every Region's /health
// (and its role and schedule).
func (n Names) ProbeFunction(region string) string {
	return fmt.Sprintf("payment-dr-probe-%s-%s", region, n.Env)
}

// NoWritableRegionSeenAlarm fires when the probe in region sees no Region
// accept payments: the detection that survives the loss of the other.
func (n Names) NoWritableRegionSeenAlarm(region string) string {
	return fmt.Sprintf("payment-no-writable-region-seen-from-%s-%s", region, n.Env)
}

// TwoWritableRegionsSeenAlarm fires when the probe in region sees both.
func (n Names) TwoWritableRegionsSeenAlarm(region string) string {
	return fmt.Sprintf("payment-two-writable-regions-seen-from-%s-%s", region, n.Env)
}

// The payment events the service publishes after each commit, and that
// the forwarding rules match.
const (
	PaymentEventSource    = "custom.payment"
	PaymentProcessedEvent = "Payment Processed"
	PaymentFailedEvent    = "Payment Failed"
)

// PaymentDetailTypes are the detail types of the payment events.
func PaymentDetailTypes() []string { return []string{PaymentProcessedEvent, PaymentFailedEvent} }

// OutboxSweepRule is the schedule that invokes the Region's payment
// function with {"sweepOutbox": true}.
func (n Names) OutboxSweepRule(region string) string {
	return fmt.Sprintf("payment-outbox-sweep-%s-%s", region, n.Env)
}

// Names of the ARC Region switch plan (package arcplan) and what it needs.

// RegionSwitchStack holds the plan, its roles and its report bucket, in
// the primary Region: the plan names both Regional stacks' action
// functions and alarms, so it deploys after them.
func (n Names) RegionSwitchStack() string { return "PaymentDr-" + n.Env + "-regionswitch" }

// RegionSwitchReportPrefix is the key prefix of the plan's reports in
// the report bucket.
const RegionSwitchReportPrefix = "reports"

// RegionSwitchPlan is the ARC Region switch plan (1-32 characters:
// AWS::ARCRegionSwitch::Plan Name).
func (n Names) RegionSwitchPlan() string { return "payment-dr-" + n.Env }

// RegionSwitchExecutionRole is the role ARC assumes to run the plan.
func (n Names) RegionSwitchExecutionRole() string { return "payment-dr-arc-execution-" + n.Env }

// RegionSwitchApprovalRole is the role whose holders approve the plan's
// manual approval step.
func (n Names) RegionSwitchApprovalRole() string { return "payment-dr-arc-approval-" + n.Env }

// RegionSwitchReportBucket is the S3 bucket ARC writes execution reports
// to (bucket names are global: the account keeps it unique).
func (n Names) RegionSwitchReportBucket(account string) string {
	return fmt.Sprintf("payment-dr-arc-reports-%s-%s", n.Env, account)
}

// ActionFunction is the Region's drctl-action function: the plan's custom
// action steps, run with drctl's own step code.
func (n Names) ActionFunction(region string) string {
	return fmt.Sprintf("payment-dr-action-%s-%s", region, n.Env)
}

// RegionSwitchPlanARNPattern matches the plan's ARN; ARC appends a
// six-character suffix it chooses (ARC API Reference, Plan.arn pattern).
func (n Names) RegionSwitchPlanARNPattern(account string) string {
	return ARN("arc-region-switch", "", account, "plan/"+n.RegionSwitchPlan()+":*")
}

// AlarmARN is a CloudWatch alarm's ARN.
func AlarmARN(region, account, alarm string) string {
	return ARN("cloudwatch", region, account, "alarm:"+alarm)
}

// DRConfigEnv carries the environment's validated configuration, as JSON,
// to the DR functions (drctl-evaluate, the probe, drctl-action); it holds
// no secret.
const DRConfigEnv = "PAYMENT_DR_CONFIG_JSON"
