package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// Database is one Region's member of the Aurora MySQL global database.
type Database struct {
	Cluster  awsrds.CfnDBCluster
	Instance awsrds.CfnDBInstance
}

// Endpoint is the cluster (writer) endpoint of this Region's member,
// derived from its reader endpoint: <id>.cluster-ro-<hash>.<region>... is
// <id>.cluster-<hash>.<region>... A secondary member of a global database
// may have no Endpoint.Address attribute (CloudFormation then fails with
// "Requested attribute Endpoint.Address does not exist"), while every
// member has a reader endpoint. Until drctl promotes the secondary, its
// cluster endpoint does not accept writes, so its /health stays 503:
// exactly one Region reports itself writable. (Aurora's global writer
// endpoint is deliberately not used for DB_HOST: it follows the writer, so
// both Regions would report writable, and CloudFormation does not return
// it as an attribute yet.)
func (d Database) Endpoint() *string {
	return awscdk.Fn_Join(jsii.String(".cluster-"), awscdk.Fn_Split(jsii.String(".cluster-ro-"), d.Cluster.AttrReadEndpointAddress(), jsii.Number(2)))
}

// dbProps carries what the database needs from its neighbours.
type dbProps struct {
	net Network
	key awskms.IKey
	// masterSecret is set only in the primary Region, which creates the
	// global cluster and its writer; the secondary joins by identifier.
	masterSecret awscdkSecret
}

// awscdkSecret is the part of a Secrets Manager secret the writer needs.
type awscdkSecret interface {
	SecretValueFromJson(jsonField *string) awscdk.SecretValue
}

// newDatabase creates the Region's cluster and instance. Backtrack is not
// set: Aurora does not support it on global databases (the reference's
// deploy would fail). L1 resources are used because the L2 cluster cannot
// join a global database.
func newDatabase(scope constructs.Construct, r region, p dbProps) Database {
	c := constructs.NewConstruct(scope, jsii.String("Database"))
	protected := jsii.Bool(r.cfg.DeletionProtected())

	var global awsrds.CfnGlobalCluster
	if p.masterSecret != nil {
		global = newGlobalCluster(c, r)
	}

	subnets := anyList(*r.privateSubnetIDs(p.net)...)
	subnetGroup := awsrds.NewCfnDBSubnetGroup(c, jsii.String("SubnetGroup"), &awsrds.CfnDBSubnetGroupProps{
		DbSubnetGroupName:        jsii.String(r.names.DBSubnetGroup(r.name)),
		DbSubnetGroupDescription: jsii.String("private subnets of the payment database in " + r.name),
		SubnetIds:                subnets,
	})

	params := newClusterParameters(c, r)

	clusterProps := &awsrds.CfnDBClusterProps{
		DbClusterIdentifier:             jsii.String(r.names.ClusterID(r.name)),
		GlobalClusterIdentifier:         jsii.String(r.names.GlobalClusterID()),
		Engine:                          jsii.String("aurora-mysql"),
		EngineVersion:                   jsii.String(r.cfg.DBEngineVersion),
		DbSubnetGroupName:               subnetGroup.Ref(),
		DbClusterParameterGroupName:     params.Ref(),
		VpcSecurityGroupIds:             anyList(p.net.DatabaseSG.SecurityGroupId()),
		StorageEncrypted:                jsii.Bool(true),
		KmsKeyId:                        p.key.KeyArn(),
		BackupRetentionPeriod:           jsii.Number(7),
		PreferredBackupWindow:           jsii.String("02:00-02:30"),
		PreferredMaintenanceWindow:      jsii.String("sun:04:00-sun:04:30"),
		EnableCloudwatchLogsExports:     jsii.Strings("audit", "error", "general", "slowquery"),
		EnableIamDatabaseAuthentication: jsii.Bool(true),
		// The RDS Data API on both members: drctl reconcile re-applies lost
		// payments into whichever is the writer over HTTPS, from outside
		// the VPC (a secondary answers only once promoted).
		EnableHttpEndpoint: jsii.Bool(true),
		DeletionProtection: protected,
		CopyTagsToSnapshot: jsii.Bool(true),
		// AWS Backup protects Aurora per cluster; the instance needs no tag.
		Tags: &[]*awscdk.CfnTag{backupTag()},
	}
	if p.masterSecret != nil {
		clusterProps.DatabaseName = jsii.String(r.names.DatabaseName())
		clusterProps.MasterUsername = jsii.String(naming.DBMasterUser)
		// A {{resolve:secretsmanager:...}} reference: CloudFormation reads
		// the generated password at deploy time.
		clusterProps.MasterUserPassword = p.masterSecret.SecretValueFromJson(jsii.String("password")).UnsafeUnwrap()
	}
	cluster := awsrds.NewCfnDBCluster(c, jsii.String("Cluster"), clusterProps)
	cluster.ApplyRemovalPolicy(r.removal(awscdk.RemovalPolicy_SNAPSHOT), nil)
	suppress(cluster, "AwsSolutions-RDS14", "Backtrack is not supported on Aurora global database members; point-in-time restore and daily AWS Backup copies cover rewinds")
	if !r.cfg.DeletionProtected() {
		suppress(cluster, "AwsSolutions-RDS10", "The configuration sets deletionProtection=false for this throw-away test environment; production keeps the default (on)")
	}
	suppress(cluster, "AwsSolutions-RDS11", "The default port is kept for client compatibility; only the payment Lambda's security group can reach it, and TLS plus a generated password guard it")
	if global != nil {
		cluster.AddResourceDependency(global, jsii.String("the writer joins the global cluster"))
	}

	return Database{Cluster: cluster, Instance: newDBInstance(c, r, cluster, p)}
}

// newGlobalCluster declares the global database (in the primary's stack).
func newGlobalCluster(c constructs.Construct, r region) awsrds.CfnGlobalCluster {
	global := awsrds.NewCfnGlobalCluster(c, jsii.String("GlobalCluster"), &awsrds.CfnGlobalClusterProps{
		GlobalClusterIdentifier: jsii.String(r.names.GlobalClusterID()),
		Engine:                  jsii.String("aurora-mysql"),
		EngineVersion:           jsii.String(r.cfg.DBEngineVersion),
		StorageEncrypted:        jsii.Bool(true),
		DeletionProtection:      jsii.Bool(r.cfg.DeletionProtected()),
	})
	global.ApplyRemovalPolicy(r.removal(awscdk.RemovalPolicy_RETAIN), nil)
	return global
}

// newDBInstance is the cluster's one instance. It needs no deletion
// policy of its own: the cluster keeps the data and its snapshot.
func newDBInstance(c constructs.Construct, r region, cluster awsrds.CfnDBCluster, p dbProps) awsrds.CfnDBInstance {
	instance := awsrds.NewCfnDBInstance(c, jsii.String("Instance"), &awsrds.CfnDBInstanceProps{
		DbInstanceIdentifier:        jsii.String(r.names.InstanceID(r.name)),
		DbClusterIdentifier:         cluster.Ref(),
		DbInstanceClass:             jsii.String(r.cfg.DBInstanceClass),
		Engine:                      jsii.String("aurora-mysql"),
		PubliclyAccessible:          jsii.Bool(false),
		AutoMinorVersionUpgrade:     jsii.Bool(false), // global members must stay on one version; upgrade on purpose
		EnablePerformanceInsights:   jsii.Bool(true),
		PerformanceInsightsKmsKeyId: p.key.KeyArn(),
	})
	suppress(instance, "PCI.DSS.321-RDSAutomaticMinorVersionUpgradeEnabled", "Members of a global database must run the same engine version; minor upgrades are applied on purpose, secondary first, after drctl evaluate, not by independent automatic windows")
	return instance
}

// newClusterParameters: TLS in transit is enforced by the server; audit
// logging feeds the exported audit log. It is named so that the DR role
// can be granted this group (drctl reconcile restores into it) and no other.
func newClusterParameters(c constructs.Construct, r region) awsrds.CfnDBClusterParameterGroup {
	return awsrds.NewCfnDBClusterParameterGroup(c, jsii.String("ClusterParameters"), &awsrds.CfnDBClusterParameterGroupProps{
		DbClusterParameterGroupName: jsii.String(r.names.ClusterParameterGroup(r.name)),
		Family:                      jsii.String(naming.AuroraMySQLFamily),
		Description:                 jsii.String("payment-dr: TLS required, audit log on"),
		Parameters: &map[string]any{
			"require_secure_transport": "ON",
			"server_audit_logging":     "1",
			"server_audit_events":      "CONNECT,QUERY_DCL,QUERY_DDL",
			"binlog_format":            "ROW",
		},
	})
}

func (r region) privateSubnetIDs(net Network) *[]*string {
	sel := net.Vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS})
	return sel.SubnetIds
}

// backupTag selects a resource for the daily backup plan.
func backupTag() *awscdk.CfnTag {
	return &awscdk.CfnTag{Key: jsii.String(naming.BackupTagKey), Value: jsii.String(naming.BackupTagValue)}
}

// anyList adapts strings to the *[]interface{} some L1 list properties take.
func anyList(values ...*string) *[]interface{} {
	out := make([]interface{}, len(values))
	for i, v := range values {
		out[i] = v
	}
	return &out
}
