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

// newJournalTable creates the payment journal: a DynamoDB global table
// with multi-Region strong consistency (MRSC), a replica in each Region
// and a witness in a third Region of their MRSC Region set, so a claim is
// durable in two Regions before the service answers and an isolated
// Region can complete none (DynamoDB developer guide, "How DynamoDB
// global tables work"). MRSC tables are created empty as MRSC and offer
// no TTL, no local secondary indexes and no transactions: the schema is
// pk/sk only and the service deletes expired claims itself. TableV2 gives
// every table with replicas a NEW_AND_OLD_IMAGES stream; MRSC does not
// replicate through it and nothing here reads it ("You can enable Streams
// on an MRSC replica"). Point-in-time recovery is set on each replica; a
// restore makes a single-Region table with items, which cannot become
// MRSC again (docs/journal.md, "Operating the journal").
func newJournalTable(scope constructs.Construct, r region) awsdynamodb.TableV2 {
	pitr := &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)}
	return awsdynamodb.NewTableV2(scope, jsii.String("JournalTable"), &awsdynamodb.TablePropsV2{
		TableName:                        jsii.String(r.names.JournalTable()),
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		Billing:                          awsdynamodb.Billing_OnDemand(nil),
		MultiRegionConsistency:           awsdynamodb.MultiRegionConsistency_STRONG,
		WitnessRegion:                    jsii.String(r.cfg.JournalWitness()),
		PointInTimeRecoverySpecification: pitr,
		DeletionProtection:               jsii.Bool(r.cfg.DeletionProtected()),
		Encryption:                       awsdynamodb.TableEncryptionV2_AwsManagedKey(),
		RemovalPolicy:                    r.removal(awscdk.RemovalPolicy_RETAIN),
		Replicas: &[]*awsdynamodb.ReplicaTableProps{{
			Region:                           jsii.String(r.peer),
			PointInTimeRecoverySpecification: pitr,
			DeletionProtection:               jsii.Bool(r.cfg.DeletionProtected()),
		}},
	})
}
