// Package dr holds drctl's plans (switchover, failover, failback, drill),
// its checks (status, evaluate) and the Cloud they act on. The AWS
// implementation of Cloud is in package awsops; tests use a typed fake.
package dr

import (
	"context"
	"time"
)

// Member is one Region's cluster in the global database.
type Member struct {
	Region     string
	ClusterARN string
	Writer     bool
	Status     string // the cluster's status, e.g. available
	Endpoint   string // cluster (writer) endpoint
	// Instances is the number of DB instances in the cluster. A headless
	// secondary (no instance) replicates storage but cannot take the writer.
	Instances int
}

// GlobalCluster is the global database's topology.
type GlobalCluster struct {
	ID      string
	Status  string // available, switching-over, failing-over, ...
	Members []Member
	// MovingTo is the Region a switchover or failover in progress is
	// moving the writer to (RDS FailoverState), "" when none is.
	MovingTo string
}

// Writer returns the Region holding the writer ("" if none).
func (g GlobalCluster) Writer() string {
	for _, m := range g.Members {
		if m.Writer {
			return m.Region
		}
	}
	return ""
}

// Member returns the member in region.
func (g GlobalCluster) Member(region string) (Member, bool) {
	for _, m := range g.Members {
		if m.Region == region {
			return m, true
		}
	}
	return Member{}, false
}

// RegionHealth is what a Region's GET /health reported.
type RegionHealth struct {
	// Region is the Region that answered (the "region" field): through
	// the failover name it says where DNS sends clients.
	Region         string
	Reachable      bool
	DBWritable     bool
	TableReachable bool
	Status         string
}

// Replica is one Region's replica of the session table.
type Replica struct {
	Region string
	Status string
}

// Cloud is everything drctl reads or changes. Each method is one
// observation or one action, so plans stay testable with a fake.
type Cloud interface {
	GlobalCluster(ctx context.Context) (GlobalCluster, error)
	// Switchover moves the writer to region with no data loss
	// (SwitchoverGlobalCluster).
	Switchover(ctx context.Context, region string) error
	// Failover promotes region (FailoverGlobalCluster); allowDataLoss is
	// the unplanned form for when the writer's Region is lost.
	Failover(ctx context.Context, region string, allowDataLoss bool) error
	// ReplicationLag is the latest AuroraGlobalDBReplicationLag of the
	// cluster in region (a secondary).
	ReplicationLag(ctx context.Context, region string) (time.Duration, error)
	// TableReplicationLatency is DynamoDB's ReplicationLatency from
	// source to the other Region.
	TableReplicationLatency(ctx context.Context, source string) (time.Duration, error)
	TableReplicas(ctx context.Context) ([]Replica, error)
	// HealthCheckHealthy is Route 53's view of region's health check.
	HealthCheckHealthy(ctx context.Context, region string) (bool, error)
	// FailoverRecordsHaveHealthChecks checks that both failover records
	// of the API name carry the Regions' health checks.
	FailoverRecordsHaveHealthChecks(ctx context.Context) ([]string, error)
	// Health calls region's GET /health (its Regional name).
	Health(ctx context.Context, region string) (RegionHealth, error)
	// FailoverHealth calls GET /health through the failover name, which
	// reaches whichever Region Route 53 answers with.
	FailoverHealth(ctx context.Context) (RegionHealth, error)
	Parameter(ctx context.Context, region, name string) (string, error)
	PutParameter(ctx context.Context, region, name, value string) error
	NewestRecoveryPoint(ctx context.Context, region string) (time.Time, error)
	// Function describes region's payment Lambda.
	Function(ctx context.Context, region string) (FunctionInfo, error)
	// DeniedActions simulates the caller's permissions for the statements
	// drctl needs and returns the actions that would be denied.
	DeniedActions(ctx context.Context) ([]string, error)
}

// FunctionInfo is what evaluate needs to know of a payment Lambda.
type FunctionInfo struct {
	State string // Active, Pending, Inactive, Failed
	// ReservedConcurrency is nil when unset; 0 means every invocation is
	// throttled: the Region has no capacity.
	ReservedConcurrency *int32
}

// Canary writes and reads canary payments through the payment API.
type Canary interface {
	// Write creates a canary payment through the failover name; once the
	// API acknowledged it, it returns the payment id and the Region that
	// recorded it ("" if the answer does not say).
	Write(ctx context.Context, key string) (id, region string, err error)
	// Read looks a payment up in region (its Regional name).
	Read(ctx context.Context, region, id string) (bool, error)
}
