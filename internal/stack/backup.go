package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// newBackup creates the Region's vault and a daily plan (03:00 UTC, kept 7
// days) that copies each recovery point to the other Region's vault, for
// everything tagged Backup=daily. Both Regions run the same plan, so the
// backups survive whichever Region is lost and keep flowing after a
// failover.
func newBackup(scope constructs.Construct, r region, key awskms.IKey) awsbackup.BackupVault {
	c := constructs.NewConstruct(scope, jsii.String("Backup"))
	vault := awsbackup.NewBackupVault(c, jsii.String("Vault"), &awsbackup.BackupVaultProps{
		BackupVaultName: jsii.String(r.names.BackupVault(r.name)),
		EncryptionKey:   key,
		RemovalPolicy:   r.removal(awscdk.RemovalPolicy_RETAIN),
	})
	peerVault := awsbackup.BackupVault_FromBackupVaultArn(c, jsii.String("PeerVault"),
		jsii.String(r.names.BackupVaultARN(r.peer, r.cfg.Account)))

	retention := awscdk.Duration_Days(jsii.Number(7))
	plan := awsbackup.NewBackupPlan(c, jsii.String("Plan"), &awsbackup.BackupPlanProps{
		BackupPlanName: jsii.String(r.names.BackupPlan(r.name)),
		BackupPlanRules: &[]awsbackup.BackupPlanRule{awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
			RuleName:           jsii.String("daily-0300-utc"),
			BackupVault:        vault,
			ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Minute: jsii.String("0"), Hour: jsii.String("3")}),
			StartWindow:        awscdk.Duration_Hours(jsii.Number(1)),
			CompletionWindow:   awscdk.Duration_Hours(jsii.Number(4)),
			DeleteAfter:        retention,
			CopyActions:        &[]*awsbackup.BackupPlanCopyActionProps{{DestinationBackupVault: peerVault, DeleteAfter: retention}},
		})},
	})

	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(r.names.BackupRole(r.name)),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("AWS Backup: back up and restore the resources tagged Backup=daily"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForBackup")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForRestores")),
		},
	})
	suppress(role, "AwsSolutions-IAM4", "AWS maintains the exact permissions AWS Backup needs for each resource type (Aurora, DynamoDB) in these service-role policies; a hand copy would drift from the service",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores")
	plan.AddSelection(jsii.String("TaggedDaily"), &awsbackup.BackupSelectionOptions{
		BackupSelectionName: jsii.String(r.names.BackupSelection()),
		Resources:           &[]awsbackup.BackupResource{awsbackup.BackupResource_FromTag(jsii.String(naming.BackupTagKey), jsii.String(naming.BackupTagValue), awsbackup.TagOperation_STRING_EQUALS)},
		Role:                role,
	})
	return vault
}
