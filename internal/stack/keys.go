package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// newRegionKey is the Region's customer-managed KMS key for data at rest:
// Aurora, logs, the alarm topic, the backup vault and secrets. The services
// that write encrypted data on our behalf are allowed to use it through
// their service principals, limited to this account.
//
// purpose keeps the alias unique when two stacks share a Region (the global
// stack and the primary both live in us-east-1 by default).
func newRegionKey(scope constructs.Construct, r region, purpose string) awskms.Key {
	key := awskms.NewKey(scope, jsii.String("DataKey"), &awskms.KeyProps{
		Alias:             jsii.String(r.names.KeyAlias(purpose)),
		Description:       jsii.String("payment-dr " + r.cfg.Environment + " " + purpose + " data at rest in " + r.name),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     r.removal(awscdk.RemovalPolicy_RETAIN),
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+r.name+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": naming.ARN("logs", r.name, r.cfg.Account, "*")},
		},
	}), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsToSNS"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": r.cfg.Account},
		},
	}), nil)
	return key
}
