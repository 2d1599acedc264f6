package awsops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
)

// RestoreAPI is the part of RDS reconcile uses in the old primary's Region.
type RestoreAPI interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	RestoreDBClusterFromSnapshot(context.Context, *rds.RestoreDBClusterFromSnapshotInput, ...func(*rds.Options)) (*rds.RestoreDBClusterFromSnapshotOutput, error)
	CreateDBInstance(context.Context, *rds.CreateDBInstanceInput, ...func(*rds.Options)) (*rds.CreateDBInstanceOutput, error)
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
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
	// Backoff of the waits for the restored cluster and its instance
	// (default 15 s to 1 min).
	Backoff plan.Backoff
}

// Open implements reconcile.Access. A failure after the restore keeps
// the temporary cluster: the next attempt reuses it instead of paying for
// another restore; release deletes it once reconcile has run.
func (r *ReconcileAccess) Open(ctx context.Context, old string) (reconcile.Source, reconcile.Target, func(context.Context) error, error) {
	ref, err := r.A.KeepOldPrimaryData(ctx, old)
	if err != nil {
		return nil, nil, nil, err
	}
	tempARN, restored, err := r.restore(ctx, old, ref)
	var src, dst *DataSQL
	if err == nil {
		src, dst, err = r.clients(ctx, old, tempARN)
	}
	if err != nil {
		if restored {
			id := r.A.names().ReconcileClusterID(old)
			err = fmt.Errorf("%w\nthe temporary cluster %s in %s is kept: run reconcile again to reuse it, or delete it (aws rds delete-db-instance --db-instance-identifier %s-1 --skip-final-snapshot; aws rds delete-db-cluster --db-cluster-identifier %s --skip-final-snapshot)",
				err, id, old, id, id)
		}
		return nil, nil, nil, err
	}
	return src, dst, func(ctx context.Context) error { return r.remove(ctx, old) }, nil
}

// clients are the Data API readers of the temporary cluster and of the writer.
func (r *ReconcileAccess) clients(ctx context.Context, old, tempARN string) (src, dst *DataSQL, err error) {
	n, writer := r.A.names(), r.A.Cfg.Other(old)
	oldSecret, err := r.secretARN(ctx, old)
	if err != nil {
		return nil, nil, err
	}
	writerSecret, err := r.secretARN(ctx, writer)
	if err != nil {
		return nil, nil, err
	}
	return &DataSQL{Client: r.Data[old], Cluster: tempARN, Secret: oldSecret, Database: n.DatabaseName()},
		&DataSQL{Client: r.Data[writer], Cluster: r.A.clusterARN(writer), Secret: writerSecret, Database: n.DatabaseName()}, nil
}

// snapshotTag names, on the temporary cluster, the snapshot it holds, so
// that a later attempt reuses only a cluster restored from the same one.
const snapshotTag = "payment-dr:snapshot"

// restore creates the temporary cluster from the kept snapshot (or finds
// the one an earlier attempt restored from it), then its writer instance
// once the cluster is available (RestoreDBClusterFromSnapshot creates no
// instance, and CreateDBInstance is refused until the cluster is
// available: RDS API Reference), waits for the instance (the Data API
// runs on it) and enables the Data API. restored says the cluster exists.
func (r *ReconcileAccess) restore(ctx context.Context, old, snapshot string) (arn string, restored bool, err error) {
	n, c := r.A.names(), r.RDS[old]
	orig, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(n.ClusterID(old))})
	if err != nil || len(orig.DBClusters) != 1 {
		return "", false, fmt.Errorf("describing %s for its network: %v", n.ClusterID(old), err)
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
		// The stack's own group (TLS required), the one the DR role may
		// restore into; without it RDS would use the engine's default.
		DBClusterParameterGroupName: aws.String(n.ClusterParameterGroup(old)),
		Tags: []rdstypes.Tag{{Key: aws.String("payment-dr:purpose"), Value: aws.String("drctl reconcile; deleted afterwards")},
			{Key: aws.String(snapshotTag), Value: aws.String(snapshot)}},
	})
	var exists *rdstypes.DBClusterAlreadyExistsFault
	if err != nil && !errors.As(err, &exists) {
		return "", false, fmt.Errorf("RestoreDBClusterFromSnapshot %s from %s: %w", id, snapshot, err)
	}
	if arn, err = r.waitCluster(ctx, old, id, snapshot); err != nil {
		return "", true, err
	}
	_, err = c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id + "-1"), DBClusterIdentifier: aws.String(id),
		Engine: o.Engine, DBInstanceClass: aws.String(r.InstanceClass)})
	var instExists *rdstypes.DBInstanceAlreadyExistsFault
	if err != nil && !errors.As(err, &instExists) {
		return "", true, fmt.Errorf("CreateDBInstance %s-1: %w", id, err)
	}
	if err := r.waitInstance(ctx, old, id+"-1"); err != nil {
		return "", true, err
	}
	if _, err := c.EnableHttpEndpoint(ctx, &rds.EnableHttpEndpointInput{ResourceArn: aws.String(arn)}); err != nil {
		return "", true, fmt.Errorf("EnableHttpEndpoint %s: %w", id, err)
	}
	return arn, true, nil
}

// wait polls ready for up to an hour (a restore takes tens of minutes).
func (r *ReconcileAccess) wait(ctx context.Context, what string, ready func(context.Context) (bool, error)) error {
	b := r.Backoff
	if b.Min <= 0 {
		b = plan.Backoff{Min: 15 * time.Second, Max: time.Minute}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	return plan.Wait(wctx, b, what, ready)
}

// waitCluster waits until the temporary cluster is available and checks
// that it holds snapshot; it returns the cluster's ARN.
func (r *ReconcileAccess) waitCluster(ctx context.Context, region, id, snapshot string) (string, error) {
	var arn string
	err := r.wait(ctx, "the restored cluster "+id, func(ctx context.Context) (bool, error) {
		out, err := r.RDS[region].DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err != nil || len(out.DBClusters) != 1 {
			return false, err
		}
		dc := out.DBClusters[0]
		for _, t := range dc.TagList {
			if aws.ToString(t.Key) == snapshotTag && aws.ToString(t.Value) != snapshot {
				return false, plan.Permanent(fmt.Errorf("the temporary cluster %s holds snapshot %s, not %s: delete it (aws rds delete-db-cluster --db-cluster-identifier %s --skip-final-snapshot, after its instance) and run again",
					id, aws.ToString(t.Value), snapshot, id))
			}
		}
		arn = aws.ToString(dc.DBClusterArn)
		return aws.ToString(dc.Status) == "available", nil
	})
	return arn, err
}

// waitInstance waits until the temporary cluster's instance is available.
func (r *ReconcileAccess) waitInstance(ctx context.Context, region, id string) error {
	return r.wait(ctx, "the restored cluster's instance "+id, func(ctx context.Context) (bool, error) {
		out, err := r.RDS[region].DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil || len(out.DBInstances) != 1 {
			return false, err
		}
		return aws.ToString(out.DBInstances[0].DBInstanceStatus) == "available", nil
	})
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

var _ reconcile.Access = (*ReconcileAccess)(nil)
