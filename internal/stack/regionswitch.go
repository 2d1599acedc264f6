package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsarcregionswitch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// RegionSwitch is the stack of the ARC Region switch plan.
type RegionSwitch struct {
	Stack awscdk.Stack
	Plan  awsarcregionswitch.CfnPlan
}

// newRegionSwitchStack holds drctl's plans as one ARC Region switch plan
// (package arcplan), the role ARC runs it with, the role whose holders
// approve its manual step and the bucket ARC writes its reports to. It
// lives in the primary Region and deploys last: the plan names both
// Regional stacks' action functions and probe alarms, which must exist
// when ARC evaluates it. The plan itself is global to ARC (its ARN has no
// Region) and executes from either Region.
func newRegionSwitchStack(scope constructs.Construct, cfg config.Config, g Global) RegionSwitch {
	r := newRegion(cfg, cfg.PrimaryRegion)
	st := awscdk.NewStack(scope, jsii.String(r.names.RegionSwitchStack()), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.PrimaryRegion)},
		Description:           jsii.String("payment-dr " + cfg.Environment + ": ARC Region switch plan (drctl's switchover, failover and rejoin), its roles and reports"),
		CrossRegionReferences: jsii.Bool(true),
		TerminationProtection: jsii.Bool(cfg.DeletionProtected()),
	})
	key := newRegionKey(st, r, "regionswitch")
	bucket := newReportBucket(st, r, key)
	zoneID := g.Zone.HostedZoneId()
	exec := newExecutionRole(st, r, executionProps{zoneARN: naming.HostedZoneARN(*zoneID), key: key})
	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ExecutionReports"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(exec.role.RoleArn())},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(reportObjects(r)),
	}))
	approval := newApprovalRole(st, r)

	plan := awsarcregionswitch.NewCfnPlan(st, jsii.String("Plan"), cfnPlanProps(arcplan.Build(cfg, arcplan.Inputs{HostedZoneID: *zoneID})))
	// The plan names its roles by ARN (naming), not by reference: create
	// them, their permissions and the bucket policy first.
	for _, c := range append(exec.policies, approval, bucket) {
		plan.Node().AddDependency(c)
	}
	awscdk.NewCfnOutput(st, jsii.String("PlanArn"), &awscdk.CfnOutputProps{Value: plan.AttrArn()})
	awscdk.NewCfnOutput(st, jsii.String("ReportBucket"), &awscdk.CfnOutputProps{Value: bucket.BucketName()})
	return RegionSwitch{Stack: st, Plan: plan}
}

// reportObjects is where the execution role may write: the report prefix
// of the report bucket (arcplan's ReportConfiguration.BucketPath).
func reportObjects(r region) string {
	return r.names.RegionSwitchReportObjectsARN(r.cfg.Account)
}

// newReportBucket is where ARC writes a report after each execution: DR
// evidence, kept over a year (PCI DSS 3.2.1 10.7 keeps audit history a
// year), encrypted with the stack's customer key, private, TLS only,
// versioned, with its access logged to a second bucket.
func newReportBucket(scope constructs.Construct, r region, key awskms.IKey) awss3.Bucket {
	logs := awss3.NewBucket(scope, jsii.String("ReportAccessLogs"), &awss3.BucketProps{
		// Access logs hold request metadata, not reports; SSE-S3 spares
		// granting the S3 log delivery service the customer key.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED, // log delivery is granted by bucket policy, not an ACL
		RemovalPolicy:     r.removal(awscdk.RemovalPolicy_RETAIN),
		LifecycleRules: &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(400)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30))}},
	})
	suppress(logs, "AwsSolutions-S1", "This is the access-log destination of the report bucket; logging its own access would log the log delivery")
	suppress(logs, "PCI.DSS.321-S3BucketLoggingEnabled", "This is the access-log destination of the report bucket; logging its own access would log the log delivery")
	suppress(logs, "PCI.DSS.321-S3DefaultEncryptionKMS", "Server access logs hold request metadata, not reports; SSE-S3 encrypts them without granting the S3 log delivery service the customer key")
	bucket := awss3.NewBucket(scope, jsii.String("Reports"), &awss3.BucketProps{
		BucketName:             jsii.String(r.names.RegionSwitchReportBucket(r.cfg.Account)),
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("reports/"),
		RemovalPolicy:          r.removal(awscdk.RemovalPolicy_RETAIN),
		LifecycleRules: &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(400)),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7))}},
	})
	for _, b := range []awss3.Bucket{logs, bucket} {
		suppress(b, "PCI.DSS.321-S3BucketReplicationEnabled", "Execution reports (and their access logs) record what ARC did; recovery never reads them, and ARC keeps each execution's events itself "+
			"(ListPlanExecutionEvents), so a primary-Region outage costs access to past reports, not the failover. Replicating them needs a bucket in the secondary Region: docs/architecture.md lists it as open")
	}
	return bucket
}

// executionProps carries what the execution role's statements name that
// another stack (the zone) or this one (the key) creates.
type executionProps struct {
	zoneARN string
	key     awskms.IKey
}

type executionRole struct {
	role     awsiam.Role
	policies []constructs.IConstruct
}

// newExecutionRole is the role ARC assumes to evaluate and run the plan
// (its ExecutionRole). Trust: the ARC developer guide's "Plan execution
// role trust policy" (the service principal arc-region-switch.amazonaws.com,
// sts:AssumeRole, no condition). Its permissions are those of the guide's
// sample policies for each block and feature the plan uses, each scoped to
// the plan's own resources (executionStatements).
func newExecutionRole(scope constructs.Construct, r region, p executionProps) executionRole {
	role := awsiam.NewRole(scope, jsii.String("ExecutionRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(r.names.RegionSwitchExecutionRole()),
		Description: jsii.String("ARC Region switch runs payment-dr " + r.cfg.Environment + "'s plan with this role"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("arc-region-switch.amazonaws.com"), nil),
	})
	blocks, plan := executionStatements(r, p)
	out := executionRole{role: role}
	for _, group := range []struct {
		id         string
		statements []*awsiam.PolicyStatementProps
	}{{"ExecutionBlocks", blocks}, {"ExecutionPlan", plan}} {
		policy := managedPolicy(scope, group.id, role, group.statements...)
		suppress(policy, "AwsSolutions-IAM5", "The plan's ARN ends in a six-character suffix ARC chooses at creation (ARC API Reference, Plan.arn), "+
			"matched by the plan's exact name and \":*\"; the reports are objects under the report prefix of the one report bucket",
			"Resource::"+r.names.RegionSwitchPlanARNPattern(r.cfg.Account), "Resource::"+reportObjects(r))
		out.policies = append(out.policies, policy)
	}
	return out
}
