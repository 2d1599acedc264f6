// Package awsops implements dr.Cloud with the AWS SDK for Go v2: RDS for
// the global database, CloudWatch for lag, Route 53 for health checks and
// records, SSM for the DR parameters, DynamoDB, AWS Backup, Lambda and IAM
// policy simulation. Names come from package naming; ids assigned at
// deploy time (zone, health checks) are read from the SSM parameters the
// stacks write in both Regions.
package awsops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/dnscheck"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// The small interfaces below are exactly the calls drctl makes; the SDK
// clients satisfy them, and a test may substitute any of them.

// RDSAPI is the global-database part of RDS.
type RDSAPI interface {
	DescribeGlobalClusters(context.Context, *rds.DescribeGlobalClustersInput, ...func(*rds.Options)) (*rds.DescribeGlobalClustersOutput, error)
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	SwitchoverGlobalCluster(context.Context, *rds.SwitchoverGlobalClusterInput, ...func(*rds.Options)) (*rds.SwitchoverGlobalClusterOutput, error)
	FailoverGlobalCluster(context.Context, *rds.FailoverGlobalClusterInput, ...func(*rds.Options)) (*rds.FailoverGlobalClusterOutput, error)
	DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
	CopyDBClusterSnapshot(context.Context, *rds.CopyDBClusterSnapshotInput, ...func(*rds.Options)) (*rds.CopyDBClusterSnapshotOutput, error)
}

// SSMAPI reads and writes the DR parameters.
type SSMAPI interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// CloudWatchAPI reads replication metrics.
type CloudWatchAPI interface {
	GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// DynamoDBAPI describes the session table and keeps the journal item.
type DynamoDBAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// BackupAPI lists recovery points.
type BackupAPI interface {
	backup.ListRecoveryPointsByBackupVaultAPIClient
}

// LambdaAPI describes the payment function, fences its writes and
// invokes its journal replay.
type LambdaAPI interface {
	GetFunction(context.Context, *lambda.GetFunctionInput, ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	PutFunctionConcurrency(context.Context, *lambda.PutFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.PutFunctionConcurrencyOutput, error)
	DeleteFunctionConcurrency(context.Context, *lambda.DeleteFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.DeleteFunctionConcurrencyOutput, error)
	GetFunctionConcurrency(context.Context, *lambda.GetFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
	// Invoke runs the payment function's journal replay after a failover.
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Route53API reads health checks and the failover records.
type Route53API interface {
	GetHealthCheckStatus(context.Context, *route53.GetHealthCheckStatusInput, ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error)
	ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
}

// IAMAPI simulates the DR permissions.
type IAMAPI interface {
	SimulatePrincipalPolicy(context.Context, *iam.SimulatePrincipalPolicyInput, ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error)
}

// STSAPI names the caller.
type STSAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Regional holds one Region's clients.
type Regional struct {
	RDS        RDSAPI
	SSM        SSMAPI
	CloudWatch CloudWatchAPI
	DynamoDB   DynamoDBAPI
	Backup     BackupAPI
	Lambda     LambdaAPI
}

// AWS implements dr.Cloud.
type AWS struct {
	Cfg     config.Config
	Regions map[string]Regional
	Route53 Route53API
	IAM     IAMAPI
	STS     STSAPI
	HTTP    *http.Client
	// Now is the clock for metric windows and journal expiry (default time.Now).
	Now func() time.Time
	// SimulateARN, if set, is the principal whose permissions
	// DeniedActions simulates (the scheduled evaluator checks the DR role,
	// not its own); otherwise the caller's.
	SimulateARN string
	// Home is the Region read first (the run's target: during a failover
	// the Region expected to be alive), and the Region of STS.
	Home string
	// DNS asks the zone's authoritative name servers (FailoverAnswer).
	DNS dnscheck.Checker
	// ReconcileData restores and reads the old primary's kept data.
	ReconcileData *ReconcileAccess
}

// Per-call bounds: every attempt of every AWS call times out after
// AttemptTimeout and is retried at most Attempts times in all, so a hung
// Region costs seconds, not the SDK's default minutes.
const (
	AttemptTimeout = 2 * time.Second
	Attempts       = 3
	MaxBackoff     = time.Second
)

// Bounded returns awsCfg with a per-attempt timeout (the HTTP client's
// timeout covers one attempt: each retry is a new request) and a retryer
// of at most Attempts attempts backing off up to maxBackoff.
func Bounded(awsCfg aws.Config, attempt, maxBackoff time.Duration) aws.Config {
	c := awsCfg.Copy()
	c.HTTPClient = awshttp.NewBuildableClient().WithTimeout(attempt)
	c.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts, o.MaxBackoff = Attempts, maxBackoff
		})
	}
	return c
}

// DataAPIAttemptTimeout bounds one Data API attempt. The service runs a
// statement for up to 45 seconds before it ends the call (RDS Data API
// reference, ExecuteStatement), so AttemptTimeout would cut a statement
// that is still running and, retried, send it again.
const DataAPIAttemptTimeout = 50 * time.Second

// sendOnce and sendOnceRDS make one call send its request once: for calls
// that are not safe to repeat (a statement inside a transaction, its
// commit, a global failover or switchover), whose lost answer must be
// settled by reading state, not by sending them again.
func sendOnce(o *rdsdata.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }
func sendOnceRDS(o *rds.Options)  { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }
func dataAPITimeout(o *rdsdata.Options) {
	o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(DataAPIAttemptTimeout)
}

// New builds the clients from an aws.Config (credentials already set up,
// e.g. assumed DR role); awsCfg.Region is Home, read first and used for
// STS (its regional endpoint).
func New(cfg config.Config, awsCfg aws.Config) *AWS {
	a := &AWS{Cfg: cfg, Regions: map[string]Regional{}, HTTP: &http.Client{Timeout: 5 * time.Second}, Now: time.Now, Home: awsCfg.Region}
	if !slices.Contains(cfg.Regions(), a.Home) {
		a.Home = cfg.PrimaryRegion
	}
	rc := &ReconcileAccess{A: a, RDS: map[string]RestoreAPI{}, Data: map[string]DataAPI{}, Secrets: map[string]SecretsAPI{}, InstanceClass: cfg.DBInstanceClass}
	for _, r := range cfg.Regions() {
		c := awsCfg.Copy()
		c.Region = r
		rdsClient := rds.NewFromConfig(c)
		a.Regions[r] = Regional{RDS: rdsClient, SSM: ssm.NewFromConfig(c), CloudWatch: cloudwatch.NewFromConfig(c),
			DynamoDB: dynamodb.NewFromConfig(c), Backup: backup.NewFromConfig(c), Lambda: lambda.NewFromConfig(c)}
		rc.RDS[r], rc.Data[r], rc.Secrets[r] = rdsClient, rdsdata.NewFromConfig(c, dataAPITimeout), secretsmanager.NewFromConfig(c)
	}
	a.ReconcileData = rc
	g := awsCfg.Copy()
	g.Region = "us-east-1" // Route 53 and IAM are global; their endpoints live there
	a.Route53, a.IAM = route53.NewFromConfig(g), iam.NewFromConfig(g)
	h := awsCfg.Copy()
	h.Region = a.Home
	a.STS = sts.NewFromConfig(h)
	a.DNS = dnscheck.Checker{Zone: a.names().ZoneName()}
	return a
}

func (a *AWS) names() naming.Names { return naming.New(a.Cfg.Environment, a.Cfg.DomainName) }

// order is the Regions to read from: Home first.
func (a *AWS) order() []string {
	home := a.Home
	if home == "" {
		home = a.Cfg.PrimaryRegion
	}
	return []string{home, a.Cfg.Other(home)}
}

// eachRegion tries fn in Home, then the other Region: during an outage of
// the other Region, nothing waits on it.
func eachRegion[T any](a *AWS, fn func(region string, c Regional) (T, error)) (T, error) {
	var errs []error
	for _, r := range a.order() {
		v, err := fn(r, a.Regions[r])
		if err == nil {
			return v, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", r, err))
	}
	var zero T
	return zero, errors.Join(errs...)
}

// GlobalCluster implements dr.Cloud.
func (a *AWS) GlobalCluster(ctx context.Context) (dr.GlobalCluster, error) {
	id := a.names().GlobalClusterID()
	out, err := eachRegion(a, func(_ string, c Regional) (*rds.DescribeGlobalClustersOutput, error) {
		return c.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: aws.String(id)})
	})
	if err != nil {
		return dr.GlobalCluster{}, fmt.Errorf("DescribeGlobalClusters %s: %w", id, err)
	}
	if len(out.GlobalClusters) != 1 {
		return dr.GlobalCluster{}, fmt.Errorf("global cluster %s not found", id)
	}
	gc := out.GlobalClusters[0]
	g := dr.GlobalCluster{ID: aws.ToString(gc.GlobalClusterIdentifier), Status: aws.ToString(gc.Status)}
	if fs := gc.FailoverState; fs != nil && fs.Status != "" {
		g.Move = dr.Move{From: arnRegion(fs.FromDbClusterArn), To: arnRegion(fs.ToDbClusterArn), Status: string(fs.Status), DataLossAllowed: aws.ToBool(fs.IsDataLossAllowed)}
	}
	for _, m := range gc.GlobalClusterMembers {
		parsed, err := arn.Parse(aws.ToString(m.DBClusterArn))
		if err != nil {
			continue
		}
		member := dr.Member{Region: parsed.Region, ClusterARN: aws.ToString(m.DBClusterArn), Writer: aws.ToBool(m.IsWriter), Status: "unknown",
			SynchronizationStatus: string(m.SynchronizationStatus)}
		if c, ok := a.Regions[parsed.Region]; ok {
			d, err := c.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: m.DBClusterArn})
			if err == nil && len(d.DBClusters) == 1 {
				dc := d.DBClusters[0]
				member.Status, member.Endpoint = aws.ToString(dc.Status), aws.ToString(dc.Endpoint)
				member.Instances, member.EngineVersion = len(dc.DBClusterMembers), aws.ToString(dc.EngineVersion)
			} else if err != nil {
				member.Status = "unreachable"
			}
		}
		g.Members = append(g.Members, member)
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].Region < g.Members[j].Region })
	return g, nil
}

func (a *AWS) clusterARN(region string) string { return a.names().ClusterARN(region, a.Cfg.Account) }

// Switchover implements dr.Cloud (SwitchoverGlobalCluster, sent to the target Region).
func (a *AWS) Switchover(ctx context.Context, region string) error {
	_, err := a.Regions[region].RDS.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{
		GlobalClusterIdentifier: aws.String(a.names().GlobalClusterID()), TargetDbClusterIdentifier: aws.String(a.clusterARN(region)),
	}, sendOnceRDS)
	return err
}

// Failover implements dr.Cloud (FailoverGlobalCluster).
func (a *AWS) Failover(ctx context.Context, region string, allowDataLoss bool) error {
	in := &rds.FailoverGlobalClusterInput{
		GlobalClusterIdentifier: aws.String(a.names().GlobalClusterID()), TargetDbClusterIdentifier: aws.String(a.clusterARN(region)),
	}
	if allowDataLoss {
		in.AllowDataLoss = aws.Bool(true)
	}
	_, err := a.Regions[region].RDS.FailoverGlobalCluster(ctx, in, sendOnceRDS)
	return err
}

// latestMetric returns the most recent datapoint of a metric over the last
// ten minutes.
func (a *AWS) latestMetric(ctx context.Context, region, ns, name, stat string, dims map[string]string) (float64, error) {
	var d []cwtypes.Dimension
	for k, v := range dims {
		d = append(d, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)})
	}
	now := a.Now()
	out, err := a.Regions[region].CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now), ScanBy: cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: d},
			Period: aws.Int32(60), Stat: aws.String(stat)}}},
	})
	if err != nil {
		return 0, err
	}
	if len(out.MetricDataResults) == 0 || len(out.MetricDataResults[0].Values) == 0 {
		return 0, fmt.Errorf("no %s datapoints in %s in the last 10 minutes", name, region)
	}
	return out.MetricDataResults[0].Values[0], nil
}

// ReplicationLag implements dr.Cloud: the RPO lag of the cluster in
// region, from the metric its engine version publishes.
func (a *AWS) ReplicationLag(ctx context.Context, region string) (time.Duration, error) {
	id := a.names().ClusterID(region)
	d, err := a.Regions[region].RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(a.clusterARN(region))})
	if err != nil {
		return 0, fmt.Errorf("DescribeDBClusters %s (engine version): %w", id, err)
	}
	version := ""
	if len(d.DBClusters) == 1 {
		version = aws.ToString(d.DBClusters[0].EngineVersion)
	}
	v, err := a.latestMetric(ctx, region, "AWS/RDS", LagMetric(version), "Maximum", map[string]string{"DBClusterIdentifier": id})
	return time.Duration(v * float64(time.Millisecond)), err
}

// LagMetric is the CloudWatch metric of a secondary's RPO lag: Aurora
// MySQL 3.04 and later publish AuroraGlobalDBRPOLag (time for a commit on
// the primary to be stored in the secondary); earlier versions only
// AuroraGlobalDBReplicationLag.
func LagMetric(engineVersion string) string {
	const marker = ".mysql_aurora."
	i := strings.Index(engineVersion, marker)
	if i < 0 {
		return "AuroraGlobalDBReplicationLag"
	}
	var major, minor int
	if _, err := fmt.Sscanf(engineVersion[i+len(marker):], "%d.%d", &major, &minor); err != nil {
		return "AuroraGlobalDBReplicationLag"
	}
	if major > 3 || major == 3 && minor >= 4 {
		return "AuroraGlobalDBRPOLag"
	}
	return "AuroraGlobalDBReplicationLag"
}

// TableReplicationLatency implements dr.Cloud.
func (a *AWS) TableReplicationLatency(ctx context.Context, source string) (time.Duration, error) {
	v, err := a.latestMetric(ctx, source, "AWS/DynamoDB", "ReplicationLatency", "Average",
		map[string]string{"TableName": a.names().SessionTable(), "ReceivingRegion": a.Cfg.Other(source)})
	return time.Duration(v * float64(time.Millisecond)), err
}

// TableReplicas implements dr.Cloud.
func (a *AWS) TableReplicas(ctx context.Context) ([]dr.Replica, error) {
	out, err := eachRegion(a, func(_ string, c Regional) (*dynamodb.DescribeTableOutput, error) {
		return c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(a.names().SessionTable())})
	})
	if err != nil {
		return nil, err
	}
	var rs []dr.Replica
	for _, r := range out.Table.Replicas {
		rs = append(rs, dr.Replica{Region: aws.ToString(r.RegionName), Status: string(r.ReplicaStatus)})
	}
	return rs, nil
}

func (a *AWS) param(ctx context.Context, name string) (string, error) {
	return eachRegion(a, func(_ string, c Regional) (string, error) {
		out, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Parameter.Value), nil
	})
}

// HealthCheckHealthy implements dr.Cloud: healthy as Route 53 decides,
// when more than 18 % of its checkers report success.
func (a *AWS) HealthCheckHealthy(ctx context.Context, region string) (bool, error) {
	id, err := a.param(ctx, a.names().HealthCheckParam(region))
	if err != nil {
		return false, err
	}
	out, err := a.Route53.GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return false, err
	}
	return route53Healthy(out.HealthCheckObservations), nil
}

// route53Healthy applies Route 53's rule: an endpoint is healthy when more
// than 18 % of the health checkers report it healthy.
func route53Healthy(obs []r53types.HealthCheckObservation) bool {
	ok := 0
	for _, o := range obs {
		if o.StatusReport != nil && strings.HasPrefix(aws.ToString(o.StatusReport.Status), "Success") {
			ok++
		}
	}
	return len(obs) > 0 && ok*100 > 18*len(obs)
}

// FailoverRecordsHaveHealthChecks implements dr.Cloud.
func (a *AWS) FailoverRecordsHaveHealthChecks(ctx context.Context) ([]string, error) {
	n := a.names()
	zone, err := a.param(ctx, n.ZoneIDParam())
	if err != nil {
		return nil, err
	}
	out, err := a.Route53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zone), StartRecordName: aws.String(n.APIHost()), StartRecordType: r53types.RRTypeA,
	})
	if err != nil {
		return nil, err
	}
	found := map[string]r53types.ResourceRecordSet{}
	for _, rr := range out.ResourceRecordSets {
		if strings.TrimSuffix(aws.ToString(rr.Name), ".") == n.APIHost() && rr.Failover != "" {
			found[string(rr.Failover)] = rr
		}
	}
	var problems []string
	for _, role := range []string{"PRIMARY", "SECONDARY"} {
		rr, ok := found[role]
		if !ok {
			problems = append(problems, role+" record of "+n.APIHost()+" is missing")
			continue
		}
		region := aws.ToString(rr.SetIdentifier)
		want, err := a.param(ctx, n.HealthCheckParam(region))
		switch {
		case aws.ToString(rr.HealthCheckId) == "":
			problems = append(problems, role+" record of "+n.APIHost()+" has no health check")
		case err == nil && aws.ToString(rr.HealthCheckId) != want:
			problems = append(problems, fmt.Sprintf("%s record carries health check %s, not %s's %s", role, aws.ToString(rr.HealthCheckId), region, want))
		}
	}
	return problems, nil
}

// Health implements dr.Cloud: GET /health on the Region's own name.
func (a *AWS) Health(ctx context.Context, region string) (dr.RegionHealth, error) {
	return a.health(ctx, a.names().RegionalAPIHost(region))
}

// FailoverHealth implements dr.Cloud: GET /health on the failover name.
func (a *AWS) FailoverHealth(ctx context.Context) (dr.RegionHealth, error) {
	return a.health(ctx, a.names().APIHost())
}

// health reads /health of host. 200 and 503 both carry the JSON body; a
// Region that answers at all is Reachable.
func (a *AWS) health(ctx context.Context, host string) (dr.RegionHealth, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/health", nil)
	if err != nil {
		return dr.RegionHealth{}, err
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return dr.RegionHealth{}, err
	}
	defer resp.Body.Close()
	var body payments.Health
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return dr.RegionHealth{Reachable: true}, fmt.Errorf("%s/health answered %d without the expected JSON: %w", host, resp.StatusCode, err)
	}
	return dr.RegionHealthOf(body), nil
}

// Parameter implements dr.Cloud.
func (a *AWS) Parameter(ctx context.Context, region, name string) (string, error) {
	out, err := a.Regions[region].SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Parameter.Value), nil
}

// PutParameter implements dr.Cloud.
func (a *AWS) PutParameter(ctx context.Context, region, name, value string) error {
	_, err := a.Regions[region].SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Overwrite: aws.Bool(true), Type: ssmtypes.ParameterTypeString,
	})
	return err
}

// NewestRecoveryPoint implements dr.Cloud.
func (a *AWS) NewestRecoveryPoint(ctx context.Context, region string) (time.Time, error) {
	var newest time.Time
	p := backup.NewListRecoveryPointsByBackupVaultPaginator(a.Regions[region].Backup, &backup.ListRecoveryPointsByBackupVaultInput{
		BackupVaultName: aws.String(a.names().BackupVault(region)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return time.Time{}, err
		}
		for _, rp := range page.RecoveryPoints {
			if rp.Status == "COMPLETED" && rp.CreationDate != nil && rp.CreationDate.After(newest) {
				newest = *rp.CreationDate
			}
		}
	}
	if newest.IsZero() {
		return newest, fmt.Errorf("no completed recovery point in %s", a.names().BackupVault(region))
	}
	return newest, nil
}

// Function implements dr.Cloud.
func (a *AWS) Function(ctx context.Context, region string) (dr.FunctionInfo, error) {
	out, err := a.Regions[region].Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(a.names().PaymentFunction(region))})
	if err != nil {
		return dr.FunctionInfo{}, err
	}
	var fi dr.FunctionInfo
	if out.Configuration != nil {
		fi.State = string(out.Configuration.State)
	}
	if out.Concurrency != nil {
		fi.ReservedConcurrency = out.Concurrency.ReservedConcurrentExecutions
	}
	return fi, nil
}

// DeniedActions implements dr.Cloud: it simulates drpolicy's statements
// for the caller (the assumed DR role) with iam:SimulatePrincipalPolicy.
func (a *AWS) DeniedActions(ctx context.Context) ([]string, error) {
	principal := a.SimulateARN
	if principal == "" {
		who, err := a.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, err
		}
		principal = PrincipalARN(aws.ToString(who.Arn))
	}
	ids := drpolicy.IDs{HealthChecks: map[string]string{}}
	if z, err := a.param(ctx, a.names().ZoneIDParam()); err == nil {
		ids.ZoneID = z
	}
	for _, r := range a.Cfg.Regions() {
		if h, err := a.param(ctx, a.names().HealthCheckParam(r)); err == nil {
			ids.HealthChecks[r] = h
		}
	}
	var denied []string
	for _, st := range drpolicy.Statements(a.Cfg, ids) {
		in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(principal), ActionNames: st.Actions, ResourceArns: st.Resources}
		// A statement's conditions hold only with their context keys: pass
		// them, or a conditioned statement is reported denied.
		for k, vs := range st.Context() {
			in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{
				ContextKeyName: aws.String(k), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: vs})
		}
		out, err := a.IAM.SimulatePrincipalPolicy(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("simulating %s for %s: %w", st.Sid, principal, err)
		}
		for _, r := range out.EvaluationResults {
			// With several resources IAM decides per resource; a
			// statement is usable only if every one of them is allowed.
			if len(r.ResourceSpecificResults) > 0 {
				for _, rs := range r.ResourceSpecificResults {
					if rs.EvalResourceDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
						denied = append(denied, aws.ToString(r.EvalActionName)+" on "+aws.ToString(rs.EvalResourceName))
					}
				}
				continue
			}
			if r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
				denied = append(denied, aws.ToString(r.EvalActionName)+" on "+aws.ToString(r.EvalResourceName))
			}
		}
	}
	return denied, nil
}

// PrincipalARN turns an assumed-role session ARN into its role's ARN,
// which is what policy simulation takes.
func PrincipalARN(caller string) string {
	a, err := arn.Parse(caller)
	if err != nil || a.Service != "sts" || !strings.HasPrefix(a.Resource, "assumed-role/") {
		return caller
	}
	parts := strings.Split(a.Resource, "/")
	return "arn:" + a.Partition + ":iam::" + a.AccountID + ":role/" + parts[1]
}

var _ dr.Cloud = (*AWS)(nil)
