// Package dr holds drctl's plans (switchover, failover, failback, drill),
// its checks (status, evaluate) and the Cloud they act on. The AWS
// implementation of Cloud is in package awsops; tests use a typed fake.
package dr

import (
	"context"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
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
	// EngineVersion is the cluster's engine version (e.g.
	// 8.0.mysql_aurora.3.05.2): a move needs the same version everywhere.
	EngineVersion string
	// SynchronizationStatus is RDS's view of a secondary's replication:
	// "connected", "pending-resync", or "" when unknown.
	SynchronizationStatus string
}

// Move is a switchover or failover in progress (RDS FailoverState).
type Move struct {
	From, To string
	// Status is "pending", "failing-over", "cancelling", or "" when no
	// move is in progress.
	Status          string
	DataLossAllowed bool
}

// MoveCancelling is the Status of a move RDS is rolling back.
const MoveCancelling = "cancelling"

// GlobalCluster is the global database's topology.
type GlobalCluster struct {
	ID      string
	Status  string // available, switching-over, failing-over, ...
	Members []Member
	// Move is the switchover or failover in progress, if any.
	Move Move
}

// MovingTo is the Region a move in progress (not being cancelled) is
// taking the writer to, "" when none is.
func (g GlobalCluster) MovingTo() string {
	if g.Move.Status == "" || g.Move.Status == MoveCancelling {
		return ""
	}
	return g.Move.To
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
	// Writer is the Region the journal's writer record names, as the
	// service last read it ("" when it reported none): a Region that is
	// not the writer takes no payment, whatever its database says.
	Writer string
}

// RegionHealthOf is what a /health body (the service's payments.Health)
// tells drctl; the Region answered, so it is Reachable.
func RegionHealthOf(h payments.Health) RegionHealth {
	return RegionHealth{Region: h.Region, Reachable: true, DBWritable: h.DBWritable, TableReachable: h.TableReachable,
		Status: h.Status, Writer: h.WriterRegion}
}

// TakesPayments reports whether the Region's /health says it takes
// payments: a writable database, and no writer record naming another
// Region.
func (h RegionHealth) TakesPayments() bool {
	return h.DBWritable && (h.Writer == "" || h.Writer == h.Region)
}

// Replica is one Region's replica of the session table.
type Replica struct {
	Region string
	Status string
}

// The small interfaces below are what each part of drctl needs; Cloud is
// their union, implemented by awsops (AWS), labcloud (the DR lab) and
// drfake (tests).

// Topology reads the global database.
type Topology interface {
	GlobalCluster(ctx context.Context) (GlobalCluster, error)
}

// Mover moves the writer.
type Mover interface {
	// Switchover moves the writer to region with no data loss
	// (SwitchoverGlobalCluster).
	Switchover(ctx context.Context, region string) error
	// Failover promotes region (FailoverGlobalCluster); allowDataLoss is
	// the unplanned form for when the writer's Region is lost.
	Failover(ctx context.Context, region string, allowDataLoss bool) error
}

// Metrics reads replication metrics.
type Metrics interface {
	// ReplicationLag is the latest RPO lag of the cluster in region (a
	// secondary): AuroraGlobalDBRPOLag for Aurora MySQL 3.04 and later,
	// else AuroraGlobalDBReplicationLag. A missing metric is an error.
	ReplicationLag(ctx context.Context, region string) (time.Duration, error)
	// TableReplicationLatency is DynamoDB's ReplicationLatency from
	// source to the other Region.
	TableReplicationLatency(ctx context.Context, source string) (time.Duration, error)
}

// Tables reads the session table's replicas.
type Tables interface {
	TableReplicas(ctx context.Context) ([]Replica, error)
}

// Routing is DNS failover: Route 53's control-plane view (status,
// evaluate) and the data-plane answer (used during a move).
type Routing interface {
	// HealthCheckHealthy is Route 53's view of region's health check.
	HealthCheckHealthy(ctx context.Context, region string) (bool, error)
	// FailoverRecordsHaveHealthChecks checks that both failover records
	// of the API name carry the Regions' health checks.
	FailoverRecordsHaveHealthChecks(ctx context.Context) ([]string, error)
	// FailoverAnswer asks the zone's authoritative name servers which
	// Region the failover name answers with (data plane).
	FailoverAnswer(ctx context.Context) (region string, err error)
}

// Prober calls the payment service's GET /health.
type Prober interface {
	// Health calls region's GET /health (its Regional name).
	Health(ctx context.Context, region string) (RegionHealth, error)
	// FailoverHealth calls GET /health through the failover name, which
	// reaches whichever Region Route 53 answers with.
	FailoverHealth(ctx context.Context) (RegionHealth, error)
}

// Parameters reads and writes the DR parameters of one Region.
type Parameters interface {
	Parameter(ctx context.Context, region, name string) (string, error)
	PutParameter(ctx context.Context, region, name, value string) error
}

// Inventory is what evaluate checks besides the topology.
type Inventory interface {
	NewestRecoveryPoint(ctx context.Context, region string) (time.Time, error)
	// Function describes region's payment Lambda.
	Function(ctx context.Context, region string) (FunctionInfo, error)
	// DeniedActions simulates the caller's permissions for the statements
	// drctl needs and returns the actions that would be denied.
	DeniedActions(ctx context.Context) ([]string, error)
}

// Fencer stops and restores the payment service's writes in a Region.
type Fencer interface {
	// FenceWrites stops the payment service in region from writing
	// (AWS: the payment Lambda's reserved concurrency set to 0).
	FenceWrites(ctx context.Context, region string) error
	// UnfenceWrites undoes FenceWrites: every move into a fenced Region
	// and drctl rejoin lift the fence.
	UnfenceWrites(ctx context.Context, region string) error
	// WritesFenced reports that region's payment service is fenced
	// (AWS: its reserved concurrency is 0).
	WritesFenced(ctx context.Context, region string) (bool, error)
	// OldPrimaryFenced reports that the global cluster's topology no
	// longer names region's cluster the writer (AWS: DescribeGlobalClusters'
	// IsWriter; the lab reads its topology the same way). Its database may
	// still take writes until Aurora reaches it: the journal's writer
	// record is what keeps its service from taking payments.
	OldPrimaryFenced(ctx context.Context, region string) (bool, error)
}

// Keeper keeps the old primary's data after an unplanned failover.
type Keeper interface {
	// KeepOldPrimaryData keeps the only copy of the payments lost by an
	// unplanned failover (AWS: a manual copy of Aurora's unplanned-failover
	// snapshot) and returns a reference to it.
	KeepOldPrimaryData(ctx context.Context, oldRegion string) (ref string, err error)
}

// WriterEpoch is the payment journal's writer record: the one Region
// whose payment service may claim keys, and its epoch.
type WriterEpoch struct {
	Region string
	Epoch  int64
	SetAt  time.Time
	SetBy  string
}

// Epochs reads and moves the writer record, the fence every payment's
// claim passes: a strongly consistent item of the MRSC journal, so it
// holds through any Region's loss, whatever Lambda's concurrency or
// Aurora's fencing did.
type Epochs interface {
	// JournalWriter reads the record through via's replica (found false:
	// none recorded yet).
	JournalWriter(ctx context.Context, via string) (w WriterEpoch, found bool, err error)
	// SetJournalWriter makes target the writer at epoch prev+1, through
	// target's replica, only if the record's epoch is still prev (0: none).
	SetJournalWriter(ctx context.Context, target string, prev int64, setBy string) (WriterEpoch, error)
}

// Cloud is everything drctl reads or changes.
type Cloud interface {
	Epochs
	Topology
	Mover
	Metrics
	Tables
	Routing
	Prober
	Parameters
	Inventory
	Fencer
	Keeper
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
