package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newSessionTable creates the DynamoDB global table of payment sessions in
// the primary Region with its replica in the secondary: on-demand, streams
// (required by global tables), point-in-time recovery on every replica,
// deletion protection, and a TTL so abandoned sessions expire.
func newSessionTable(scope constructs.Construct, r region) awsdynamodb.TableV2 {
	pitr := &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)}
	tags := &[]*awscdk.CfnTag{backupTag()}
	return awsdynamodb.NewTableV2(scope, jsii.String("SessionTable"), &awsdynamodb.TablePropsV2{
		TableName:                        jsii.String(r.names.SessionTable()),
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("sessionId"), Type: awsdynamodb.AttributeType_STRING},
		Billing:                          awsdynamodb.Billing_OnDemand(nil),
		DynamoStream:                     awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
		PointInTimeRecoverySpecification: pitr,
		DeletionProtection:               jsii.Bool(r.cfg.DeletionProtected()),
		TimeToLiveAttribute:              jsii.String("expiresAt"),
		Encryption:                       awsdynamodb.TableEncryptionV2_AwsManagedKey(),
		RemovalPolicy:                    r.removal(awscdk.RemovalPolicy_RETAIN),
		Tags:                             tags,
		Replicas: &[]*awsdynamodb.ReplicaTableProps{{
			Region:                           jsii.String(r.peer),
			PointInTimeRecoverySpecification: pitr,
			DeletionProtection:               jsii.Bool(r.cfg.DeletionProtected()),
			Tags:                             tags,
		}},
	})
}
