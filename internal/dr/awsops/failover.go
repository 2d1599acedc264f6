package awsops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func arnRegion(s *string) string {
	a, err := arn.Parse(aws.ToString(s))
	if err != nil {
		return ""
	}
	return a.Region
}

// FenceWrites implements dr.Cloud: the payment Lambda of region gets a
// reserved concurrency of 0, so every invocation is throttled and nothing
// in that Region writes a payment. The stack sets no reserved concurrency,
// so UnfenceWrites restores the deployed state by deleting it.
func (a *AWS) FenceWrites(ctx context.Context, region string) error {
	_, err := a.Regions[region].Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(a.names().PaymentFunction(region)), ReservedConcurrentExecutions: aws.Int32(0),
	})
	return err
}

// UnfenceWrites implements dr.Cloud.
func (a *AWS) UnfenceWrites(ctx context.Context, region string) error {
	_, err := a.Regions[region].Lambda.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{
		FunctionName: aws.String(a.names().PaymentFunction(region)),
	})
	return err
}

// WritesFenced implements dr.Cloud: the payment Lambda's reserved
// concurrency is 0. GetFunctionConcurrency (Lambda API reference) answers
// {"ReservedConcurrentExecutions": n}, with no value when none is
// reserved: not fenced.
func (a *AWS) WritesFenced(ctx context.Context, region string) (bool, error) {
	out, err := a.Regions[region].Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{
		FunctionName: aws.String(a.names().PaymentFunction(region)),
	})
	if err != nil {
		return false, err
	}
	return out.ReservedConcurrentExecutions != nil && *out.ReservedConcurrentExecutions == 0, nil
}

// OldPrimaryFenced implements dr.Cloud: read from Home, the old primary's
// member is no longer the writer (or left the global cluster). Aurora's
// own write fencing of the old volume is best effort; the Lambda fence
// covers the application.
func (a *AWS) OldPrimaryFenced(ctx context.Context, region string) (bool, error) {
	g, err := a.GlobalCluster(ctx)
	if err != nil {
		return false, err
	}
	m, ok := g.Member(region)
	return !ok || !m.Writer, nil
}

// KeepOldPrimaryData implements dr.Cloud: it finds the newest snapshot
// Aurora took of the old primary's volume at the point of failure
// (rds:unplanned-global-failover-<cluster>-<time>, a system snapshot that
// expires with the backup retention) and copies it to a manual snapshot.
// It needs the old Region's RDS: Aurora takes that snapshot when the
// Region is back, so until then it fails and the step is resumed later.
func (a *AWS) KeepOldPrimaryData(ctx context.Context, oldRegion string) (string, error) {
	n := a.names()
	c := a.Regions[oldRegion].RDS
	snaps, err := clusterSnapshots(ctx, c, n.ClusterID(oldRegion))
	if err != nil {
		return "", fmt.Errorf("DescribeDBClusterSnapshots %s in %s: %w", n.ClusterID(oldRegion), oldRegion, err)
	}
	src, ok := newestFailoverSnapshot(snaps, n.UnplannedFailoverSnapshotPrefix(oldRegion))
	if !ok {
		return "", fmt.Errorf("no %s* snapshot in %s yet: Aurora takes it when the old primary's Region is back; resume this run then", n.UnplannedFailoverSnapshotPrefix(oldRegion), oldRegion)
	}
	target := n.KeptSnapshotID(oldRegion, src.SnapshotCreateTime.UTC().Format("20060102T150405Z"))
	for _, s := range snaps {
		if aws.ToString(s.DBClusterSnapshotIdentifier) == target {
			return target, nil // kept by an earlier attempt
		}
	}
	_, err = c.CopyDBClusterSnapshot(ctx, &rds.CopyDBClusterSnapshotInput{
		SourceDBClusterSnapshotIdentifier: src.DBClusterSnapshotIdentifier, TargetDBClusterSnapshotIdentifier: aws.String(target), CopyTags: aws.Bool(true),
	})
	var exists *rdstypes.DBClusterSnapshotAlreadyExistsFault
	if err != nil && !errors.As(err, &exists) {
		return "", fmt.Errorf("CopyDBClusterSnapshot %s -> %s: %w", aws.ToString(src.DBClusterSnapshotIdentifier), target, err)
	}
	return target, nil
}

// clusterSnapshots lists every snapshot of cluster, all pages: RDS
// answers at most MaxRecords (default and maximum 100) per call and a
// Marker for the rest (RDS API Reference, DescribeDBClusterSnapshots),
// and the kept copies never expire, so a cluster outgrows one page.
func clusterSnapshots(ctx context.Context, c rds.DescribeDBClusterSnapshotsAPIClient, cluster string) ([]rdstypes.DBClusterSnapshot, error) {
	var all []rdstypes.DBClusterSnapshot
	p := rds.NewDescribeDBClusterSnapshotsPaginator(c, &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: aws.String(cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, page.DBClusterSnapshots...)
	}
	return all, nil
}

func newestFailoverSnapshot(snaps []rdstypes.DBClusterSnapshot, prefix string) (rdstypes.DBClusterSnapshot, bool) {
	var found []rdstypes.DBClusterSnapshot
	for _, s := range snaps {
		if strings.HasPrefix(aws.ToString(s.DBClusterSnapshotIdentifier), prefix) && s.SnapshotCreateTime != nil {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return rdstypes.DBClusterSnapshot{}, false
	}
	sort.Slice(found, func(i, j int) bool { return found[i].SnapshotCreateTime.After(*found[j].SnapshotCreateTime) })
	return found[0], true
}

// FailoverAnswer implements dr.Cloud on the data plane: the zone's
// authoritative name servers are asked what the failover name answers,
// and the address is matched to a Region's own name.
func (a *AWS) FailoverAnswer(ctx context.Context) (string, error) {
	n := a.names()
	regional := map[string]string{}
	for _, r := range a.Cfg.Regions() {
		regional[r] = n.RegionalAPIHost(r)
	}
	return a.DNS.Answer(ctx, n.APIHost(), regional)
}
