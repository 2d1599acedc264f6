package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// executionStatements are the execution role's permissions in two groups:
// the execution blocks the plan uses, and the plan itself (evaluation,
// triggers, reports). Each follows the sample policy of the ARC developer
// guide page named beside it, with the resources narrowed to the plan's
// own where the guide's sample uses "*" and the Service Authorization
// Reference gives the action a resource type.
func executionStatements(r region, p executionProps) (blocks, plan []*awsiam.PolicyStatementProps) {
	n, acct := r.names, r.cfg.Account
	var actions, clusters, alarms []string
	for _, region := range r.cfg.Regions() {
		actions = append(actions, naming.FunctionARN(region, acct, n.ActionFunction(region)))
		clusters = append(clusters, n.ClusterARN(region, acct))
		alarms = append(alarms, naming.AlarmARN(region, acct, n.NoWritableRegionSeenAlarm(region)))
	}
	globalAndClusters := append([]string{n.GlobalClusterARN(acct)}, clusters...)
	planARN := n.RegionSwitchPlanARNPattern(acct)
	blocks = []*awsiam.PolicyStatementProps{
		// "Custom action Lambda execution block sample policy": GetFunction
		// and InvokeFunction on the functions of the block (both Regions').
		{Sid: jsii.String("CustomActions"), Actions: jsii.Strings("lambda:GetFunction", "lambda:InvokeFunction"), Resources: jsii.Strings(actions...)},
		// "Aurora Global Database execution block sample policy": the
		// guide grants the two Describe actions on "*"; the Service
		// Authorization Reference (Amazon RDS) authorizes them on the
		// global-cluster and cluster resources, so they are named here.
		{Sid: jsii.String("ReadGlobalDatabase"), Actions: jsii.Strings("rds:DescribeGlobalClusters", "rds:DescribeDBClusters"), Resources: jsii.Strings(globalAndClusters...)},
		// Same page: switchover and failover on the global cluster and
		// its member clusters.
		{Sid: jsii.String("MoveTheWriter"), Actions: jsii.Strings("rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"), Resources: jsii.Strings(globalAndClusters...)},
		// "Route 53 health check execution block sample policy": the
		// records of the block's hosted zone.
		{Sid: jsii.String("FailoverRecords"), Actions: jsii.Strings("route53:ListResourceRecordSets"), Resources: jsii.Strings(p.zoneARN)},
		// The manual approval block needs nothing of this role: the
		// approver's role holds ApprovePlanExecutionStep ("Manual approval
		// execution block sample policy"; newApprovalRole).
	}
	plan = []*awsiam.PolicyStatementProps{
		// "Complete plan execution role permissions": plan evaluation
		// simulates this role's own policy, and reads the plan and its
		// executions (the guide's "*" narrowed to the plan: the Service
		// Authorization Reference authorizes the three on plan*).
		{Sid: jsii.String("PlanEvaluation"), Actions: jsii.Strings("iam:SimulatePrincipalPolicy"), Resources: jsii.Strings(naming.RoleARN(acct, n.RegionSwitchExecutionRole()))},
		{Sid: jsii.String("ReadPlan"), Actions: jsii.Strings("arc-region-switch:GetPlan", "arc-region-switch:GetPlanExecution", "arc-region-switch:ListPlanExecutions"), Resources: jsii.Strings(planARN)},
		// "Plan execution role trust policy": with triggers, ARC reads the
		// triggers' alarms and starts the execution with this role.
		// DescribeAlarms and DescribeAlarmHistory on the two alarms as
		// "CloudWatch alarms for application health permissions" and
		// "Automatic plan execution reports permissions" list them;
		// StartPlanExecution on the plan (Service Authorization Reference,
		// Amazon ARC Region switch: plan*).
		{Sid: jsii.String("TriggerAlarms"), Actions: jsii.Strings("cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"), Resources: jsii.Strings(alarms...)},
		{Sid: jsii.String("TriggerStart"), Actions: jsii.Strings("arc-region-switch:StartPlanExecution"), Resources: jsii.Strings(planARN)},
		// "Automatic plan execution reports permissions": PutObject into
		// the bucket, and, the bucket being encrypted with a customer
		// key, kms:GenerateDataKey and kms:Encrypt on that key.
		{Sid: jsii.String("Reports"), Actions: jsii.Strings("s3:PutObject"), Resources: jsii.Strings(reportObjects(r))},
		{Sid: jsii.String("ReportKey"), Actions: jsii.Strings("kms:GenerateDataKey", "kms:Encrypt"), Resources: &[]*string{p.key.KeyArn()}},
	}
	return blocks, plan
}

// newApprovalRole is the plan's approval role (ExecutionApprovalConfig
// .ApprovalRole): the principals of the account whose own policy lets
// them assume it (operators, through IAM Identity Center) approve the
// manual step with it, and see the execution they approve. Only this role
// may approve: the DR role cannot ("Manual approval execution block
// sample policy": ApprovePlanExecutionStep on the plan; GetPlanExecution
// and ListPlanExecutions are authorized on plan* too, Service
// Authorization Reference, Amazon ARC Region switch).
func newApprovalRole(scope awscdk.Stack, r region) awsiam.Role {
	role := awsiam.NewRole(scope, jsii.String("ApprovalRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(r.names.RegionSwitchApprovalRole()),
		Description:        jsii.String("approves the manual step of payment-dr " + r.cfg.Environment + "'s ARC Region switch plan"),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		AssumedBy:          awsiam.NewAccountPrincipal(jsii.String(r.cfg.Account)),
	})
	policy := managedPolicy(scope, "ApprovalPolicy", role, &awsiam.PolicyStatementProps{
		Sid:       jsii.String("ApproveTheStep"),
		Actions:   jsii.Strings("arc-region-switch:ApprovePlanExecutionStep", "arc-region-switch:GetPlanExecution", "arc-region-switch:ListPlanExecutions"),
		Resources: jsii.Strings(r.names.RegionSwitchPlanARNPattern(r.cfg.Account)),
	})
	suppress(policy, "AwsSolutions-IAM5", "The plan's ARN ends in a six-character suffix ARC chooses at creation (ARC API Reference, Plan.arn), matched by the plan's exact name and \":*\"",
		"Resource::"+r.names.RegionSwitchPlanARNPattern(r.cfg.Account))
	return role
}
