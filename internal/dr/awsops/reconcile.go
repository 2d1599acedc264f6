package awsops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	rdsdatatypes "github.com/aws/aws-sdk-go-v2/service/rdsdata/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
)

// RestoreAPI is the part of RDS reconcile uses in the old primary's Region.
type RestoreAPI interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	RestoreDBClusterFromSnapshot(context.Context, *rds.RestoreDBClusterFromSnapshotInput, ...func(*rds.Options)) (*rds.RestoreDBClusterFromSnapshotOutput, error)
	CreateDBInstance(context.Context, *rds.CreateDBInstanceInput, ...func(*rds.Options)) (*rds.CreateDBInstanceOutput, error)
	EnableHttpEndpoint(context.Context, *rds.EnableHttpEndpointInput, ...func(*rds.Options)) (*rds.EnableHttpEndpointOutput, error)
	DeleteDBInstance(context.Context, *rds.DeleteDBInstanceInput, ...func(*rds.Options)) (*rds.DeleteDBInstanceOutput, error)
	DeleteDBCluster(context.Context, *rds.DeleteDBClusterInput, ...func(*rds.Options)) (*rds.DeleteDBClusterOutput, error)
}

// DataAPI is the RDS Data API (SQL over HTTPS, no network path to the VPC).
type DataAPI interface {
	ExecuteStatement(context.Context, *rdsdata.ExecuteStatementInput, ...func(*rdsdata.Options)) (*rdsdata.ExecuteStatementOutput, error)
	BeginTransaction(context.Context, *rdsdata.BeginTransactionInput, ...func(*rdsdata.Options)) (*rdsdata.BeginTransactionOutput, error)
	CommitTransaction(context.Context, *rdsdata.CommitTransactionInput, ...func(*rdsdata.Options)) (*rdsdata.CommitTransactionOutput, error)
	RollbackTransaction(context.Context, *rdsdata.RollbackTransactionInput, ...func(*rdsdata.Options)) (*rdsdata.RollbackTransactionOutput, error)
}

// SecretsAPI finds the database secret's ARN, which the Data API takes.
type SecretsAPI interface {
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// ReconcileAccess implements reconcile.Access on AWS: the kept snapshot of
// the old primary is restored into a temporary cluster (its network and
// key as the old cluster's), read through the Data API, and deleted by
// release; the writer is written through the Data API too. The Data API
// must be enabled on the writer cluster (the stack's job) and is enabled
// here on the temporary one.
type ReconcileAccess struct {
	A       *AWS
	RDS     map[string]RestoreAPI
	Data    map[string]DataAPI
	Secrets map[string]SecretsAPI
	// InstanceClass of the temporary cluster's one instance.
	InstanceClass string
	// Backoff of the wait for the restored cluster (default 15 s to 1 min).
	Backoff plan.Backoff
}

// dateTime is how MySQL DATETIME(6) values travel through the Data API.
const dateTime = "2006-01-02 15:04:05.999999"

// Open implements reconcile.Access.
func (r *ReconcileAccess) Open(ctx context.Context, old string) (reconcile.Source, reconcile.Target, func(context.Context) error, error) {
	n := r.A.names()
	writer := r.A.Cfg.Other(old)
	ref, err := r.A.KeepOldPrimaryData(ctx, old)
	if err != nil {
		return nil, nil, nil, err
	}
	tempARN, err := r.restore(ctx, old, ref)
	release := func(ctx context.Context) error { return r.remove(ctx, old) }
	if err != nil {
		return nil, nil, nil, errors.Join(err, release(ctx))
	}
	oldSecret, err := r.secretARN(ctx, old)
	if err == nil {
		var writerSecret string
		if writerSecret, err = r.secretARN(ctx, writer); err == nil {
			src := &DataSQL{Client: r.Data[old], Cluster: tempARN, Secret: oldSecret, Database: n.DatabaseName()}
			dst := &DataSQL{Client: r.Data[writer], Cluster: r.A.clusterARN(writer), Secret: writerSecret, Database: n.DatabaseName()}
			return src, dst, release, nil
		}
	}
	return nil, nil, nil, errors.Join(err, release(ctx))
}

// restore creates the temporary cluster from the kept snapshot (or finds
// it from an earlier attempt), waits until it is available and enables
// its Data API; it returns the cluster's ARN.
func (r *ReconcileAccess) restore(ctx context.Context, old, snapshot string) (string, error) {
	n, c := r.A.names(), r.RDS[old]
	orig, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(n.ClusterID(old))})
	if err != nil || len(orig.DBClusters) != 1 {
		return "", fmt.Errorf("describing %s for its network: %v", n.ClusterID(old), err)
	}
	o := orig.DBClusters[0]
	var sgs []string
	for _, g := range o.VpcSecurityGroups {
		sgs = append(sgs, aws.ToString(g.VpcSecurityGroupId))
	}
	id := n.ReconcileClusterID(old)
	_, err = c.RestoreDBClusterFromSnapshot(ctx, &rds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier: aws.String(id), SnapshotIdentifier: aws.String(snapshot), Engine: o.Engine, EngineVersion: o.EngineVersion,
		DBSubnetGroupName: o.DBSubnetGroup, VpcSecurityGroupIds: sgs, KmsKeyId: o.KmsKeyId,
		Tags: []rdstypes.Tag{{Key: aws.String("payment-dr:purpose"), Value: aws.String("drctl reconcile; deleted afterwards")}},
	})
	var exists *rdstypes.DBClusterAlreadyExistsFault
	if err != nil && !errors.As(err, &exists) {
		return "", fmt.Errorf("RestoreDBClusterFromSnapshot %s from %s: %w", id, snapshot, err)
	}
	_, err = c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id + "-1"), DBClusterIdentifier: aws.String(id),
		Engine: o.Engine, DBInstanceClass: aws.String(r.InstanceClass)})
	var instExists *rdstypes.DBInstanceAlreadyExistsFault
	if err != nil && !errors.As(err, &instExists) {
		return "", fmt.Errorf("CreateDBInstance %s-1: %w", id, err)
	}
	arn, err := r.waitAvailable(ctx, old, id)
	if err != nil {
		return "", err
	}
	if _, err := c.EnableHttpEndpoint(ctx, &rds.EnableHttpEndpointInput{ResourceArn: aws.String(arn)}); err != nil {
		return "", fmt.Errorf("EnableHttpEndpoint %s: %w", id, err)
	}
	return arn, nil
}

func (r *ReconcileAccess) waitAvailable(ctx context.Context, region, id string) (string, error) {
	b := r.Backoff
	if b.Min <= 0 {
		b = plan.Backoff{Min: 15 * time.Second, Max: time.Minute}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	var arn string
	err := plan.Wait(wctx, b, "the restored cluster "+id, func(ctx context.Context) (bool, error) {
		out, err := r.RDS[region].DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err != nil || len(out.DBClusters) != 1 {
			return false, err
		}
		arn = aws.ToString(out.DBClusters[0].DBClusterArn)
		return aws.ToString(out.DBClusters[0].Status) == "available", nil
	})
	return arn, err
}

// remove deletes the temporary cluster and its instance, keeping no
// snapshot (the kept snapshot stays).
func (r *ReconcileAccess) remove(ctx context.Context, region string) error {
	id := r.A.names().ReconcileClusterID(region)
	c := r.RDS[region]
	_, ierr := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id + "-1"), SkipFinalSnapshot: aws.Bool(true)})
	_, cerr := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
	var noInst *rdstypes.DBInstanceNotFoundFault
	var noCluster *rdstypes.DBClusterNotFoundFault
	if errors.As(ierr, &noInst) {
		ierr = nil
	}
	if errors.As(cerr, &noCluster) {
		cerr = nil
	}
	if err := errors.Join(ierr, cerr); err != nil {
		return fmt.Errorf("deleting the temporary cluster %s in %s (delete it by hand): %w", id, region, err)
	}
	return nil
}

func (r *ReconcileAccess) secretARN(ctx context.Context, region string) (string, error) {
	name := r.A.names().DBSecretName()
	out, err := r.Secrets[region].DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("DescribeSecret %s in %s: %w", name, region, err)
	}
	return aws.ToString(out.ARN), nil
}

// DataSQL is a reconcile Source and Target over the Data API.
type DataSQL struct {
	Client                    DataAPI
	Cluster, Secret, Database string
}

func (d *DataSQL) exec(ctx context.Context, tx, sql string, params ...rdsdatatypes.SqlParameter) (*rdsdata.ExecuteStatementOutput, error) {
	in := &rdsdata.ExecuteStatementInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), Database: aws.String(d.Database),
		Sql: aws.String(sql), Parameters: params, FormatRecordsAs: rdsdatatypes.RecordsFormatTypeJson}
	if tx != "" {
		in.TransactionId = aws.String(tx)
	}
	return d.Client.ExecuteStatement(ctx, in)
}

func str(name, v string) rdsdatatypes.SqlParameter {
	return rdsdatatypes.SqlParameter{Name: aws.String(name), Value: &rdsdatatypes.FieldMemberStringValue{Value: v}}
}

func num(name string, v int64) rdsdatatypes.SqlParameter {
	return rdsdatatypes.SqlParameter{Name: aws.String(name), Value: &rdsdatatypes.FieldMemberLongValue{Value: v}}
}

func stamp(name string, t time.Time) rdsdatatypes.SqlParameter {
	return rdsdatatypes.SqlParameter{Name: aws.String(name), TypeHint: rdsdatatypes.TypeHintTimestamp,
		Value: &rdsdatatypes.FieldMemberStringValue{Value: t.UTC().Format(dateTime)}}
}

// records decodes FormattedRecords (JSON objects by column name).
func records[T any](out *rdsdata.ExecuteStatementOutput) ([]T, error) {
	var rs []T
	if out.FormattedRecords == nil {
		return rs, nil
	}
	err := json.Unmarshal([]byte(*out.FormattedRecords), &rs)
	return rs, err
}
