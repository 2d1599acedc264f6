// Package labcloud is drctl's third implementation of its cloud (beside
// AWS and the test fake): the DR lab started by `drlab up`. The global
// cluster is the pair of MariaDB servers behind the lab daemon, moves are
// requests to the daemon that return before the move completes (like
// RDS), health and the failover answer come from the Route 53 stand-in,
// parameters from files in the lab directory.
package labcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/lab/frontdoor"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// EngineVersion is what the lab reports for both members: one MariaDB
// build runs both Regions.
const EngineVersion = "mariadb-10.11"

// Cloud implements dr.Cloud for a running lab.
type Cloud struct {
	Dir   labdir.Dir
	Lab   labdir.Lab
	State labdir.State
	API   *labapi.Client
	HTTP  *http.Client
}

var (
	_ dr.Cloud         = (*Cloud)(nil)
	_ reconcile.Access = (*Cloud)(nil)
)

// Open reads DIR/lab.json and DIR/state.json of a running lab.
func Open(dir string) (*Cloud, error) {
	d := labdir.Dir(dir)
	lab, err := d.ReadLab()
	if err != nil {
		return nil, err
	}
	st, err := d.ReadState()
	if err != nil {
		return nil, err
	}
	return &Cloud{Dir: d, Lab: lab, State: st, API: &labapi.Client{Addr: st.Control}, HTTP: &http.Client{Timeout: 5 * time.Second}}, nil
}

// GlobalCluster maps the daemon's view to RDS's.
func (c *Cloud) GlobalCluster(ctx context.Context) (dr.GlobalCluster, error) {
	cl, err := c.API.Cluster(ctx)
	if err != nil {
		return dr.GlobalCluster{}, err
	}
	g := dr.GlobalCluster{ID: "lab-" + c.Lab.Environment, Status: cl.Status}
	for _, m := range cl.Members {
		g.Members = append(g.Members, dr.Member{Region: m.Region, ClusterARN: "lab:" + c.Dir.Path(m.Region),
			Writer: m.Writer, Status: m.Status, Endpoint: c.endpoint(m.Region), Instances: 1,
			EngineVersion: EngineVersion, SynchronizationStatus: m.Sync})
	}
	if cl.Move.InProgress() {
		status := cl.Move.Status
		if status != labapi.MovePending && status != labapi.MoveCancelling {
			status = "failing-over" // as RDS shows any move in progress
		}
		g.Move = dr.Move{From: cl.Move.From, To: cl.Move.To, Status: status, DataLossAllowed: cl.Move.AllowDataLoss}
	}
	return g, nil
}

func (c *Cloud) endpoint(region string) string {
	return fmt.Sprintf("127.0.0.1:%d", c.State.DBPorts[region])
}

// Switchover asks the daemon for a switchover to region.
func (c *Cloud) Switchover(ctx context.Context, region string) error {
	_, err := c.API.RequestMove(ctx, labapi.MoveRequest{Kind: labapi.Switchover, To: region})
	return err
}

// Failover asks the daemon to promote region; without allowDataLoss it is
// the managed (planned) form.
func (c *Cloud) Failover(ctx context.Context, region string, allowDataLoss bool) error {
	_, err := c.API.RequestMove(ctx, labapi.MoveRequest{Kind: labapi.Failover, To: region, AllowDataLoss: allowDataLoss})
	return err
}

// ReplicationLag is the heartbeat lag into region (a replica).
func (c *Cloud) ReplicationLag(ctx context.Context, region string) (time.Duration, error) {
	cl, err := c.API.Cluster(ctx)
	if err != nil {
		return 0, err
	}
	for _, m := range cl.Members {
		if m.Region != region {
			continue
		}
		switch {
		case m.Writer:
			return 0, fmt.Errorf("%s holds the writer: it has no replication lag", region)
		case m.Diverged:
			return 0, fmt.Errorf("%s diverged after an unplanned failover and does not replicate until rebuilt", region)
		case m.LagMs < 0:
			return 0, fmt.Errorf("no replication lag for %s (database not answering or no heartbeat applied)", region)
		}
		return time.Duration(m.LagMs) * time.Millisecond, nil
	}
	return 0, fmt.Errorf("%q is not a Region of the lab", region)
}

// TableReplicationLatency: one dynalite serves both Regions (a global
// table with no replication delay).
func (c *Cloud) TableReplicationLatency(context.Context, string) (time.Duration, error) {
	return 0, nil
}

// TableReplicas: the lab's single dynalite stands for both Regions'
// replicas, ACTIVE while it answers.
func (c *Cloud) TableReplicas(ctx context.Context) ([]dr.Replica, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.State.DynamoEndpoint, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the session table (dynalite at %s) does not answer: %w", c.State.DynamoEndpoint, err)
	}
	resp.Body.Close()
	return []dr.Replica{{Region: c.State.Primary, Status: "ACTIVE"}, {Region: c.State.Secondary, Status: "ACTIVE"}}, nil
}

// HealthCheckHealthy is the Route 53 stand-in's check of region.
func (c *Cloud) HealthCheckHealthy(ctx context.Context, region string) (bool, error) {
	st, err := c.API.Status(ctx)
	if err != nil {
		return false, err
	}
	ck, ok := st.Checks[region]
	if !ok {
		return false, fmt.Errorf("no health check for %q", region)
	}
	return ck.Healthy, nil
}

// FailoverRecordsHaveHealthChecks: the stand-in's two records always
// carry their Regions' checks.
func (c *Cloud) FailoverRecordsHaveHealthChecks(context.Context) ([]string, error) { return nil, nil }

// FailoverAnswer asks the lab's authoritative DNS server.
func (c *Cloud) FailoverAnswer(ctx context.Context) (string, error) {
	timeout := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	return frontdoor.Query(c.State.DNS, c.State.FailoverName, timeout)
}

// Health calls region's /health directly.
func (c *Cloud) Health(ctx context.Context, region string) (dr.RegionHealth, error) {
	r, ok := c.Lab.Regions[region]
	if !ok {
		return dr.RegionHealth{}, fmt.Errorf("%q is not a Region of the lab", region)
	}
	return c.health(ctx, r.APIURL)
}

// FailoverHealth calls /health through the front door.
func (c *Cloud) FailoverHealth(ctx context.Context) (dr.RegionHealth, error) {
	return c.health(ctx, c.Lab.FailoverURL)
}

func (c *Cloud) health(ctx context.Context, base string) (dr.RegionHealth, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return dr.RegionHealth{}, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return dr.RegionHealth{}, nil // not reachable is an observation, not an error
	}
	defer resp.Body.Close()
	var h payments.Health
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(body, &h); err != nil {
		return dr.RegionHealth{Reachable: true, Status: resp.Status}, nil
	}
	return dr.RegionHealthOf(h), nil
}

// Parameter reads the SSM stand-in file of region.
func (c *Cloud) Parameter(_ context.Context, region, name string) (string, error) {
	v, ok, err := c.Dir.Parameter(region, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("parameter %s not found in %s", name, region)
	}
	return v, nil
}

// PutParameter writes the SSM stand-in file of region; a Region that is
// down cannot be written, as its SSM endpoint would not answer.
func (c *Cloud) PutParameter(ctx context.Context, region, name, value string) error {
	st, err := c.API.Status(ctx)
	if err != nil {
		return err
	}
	for _, r := range st.Down {
		if r == region {
			return fmt.Errorf("%s is down: its parameters cannot be written", region)
		}
	}
	return c.Dir.PutParameter(region, name, value)
}

// NewestRecoveryPoint: the binlog of a running server allows recovery to
// now (point-in-time recovery); a server that does not answer has none.
func (c *Cloud) NewestRecoveryPoint(ctx context.Context, region string) (time.Time, error) {
	cl, err := c.API.Cluster(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for _, m := range cl.Members {
		if m.Region == region && m.Reachable {
			return time.Now().UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("no recovery point in %s: its database does not answer", region)
}

// Function reports region's payment service process.
func (c *Cloud) Function(ctx context.Context, region string) (dr.FunctionInfo, error) {
	st, err := c.API.Status(ctx)
	if err != nil {
		return dr.FunctionInfo{}, err
	}
	s, ok := st.Services[region]
	if !ok {
		return dr.FunctionInfo{}, fmt.Errorf("%q is not a Region of the lab", region)
	}
	if !s.Running {
		return dr.FunctionInfo{State: "Failed"}, nil
	}
	return dr.FunctionInfo{State: "Active"}, nil
}

// DeniedActions: the lab has no IAM; nothing is denied.
func (c *Cloud) DeniedActions(context.Context) ([]string, error) { return nil, nil }

// FenceWrites fences region's payment service: its gateway refuses every
// request, as API Gateway does for a function at reserved concurrency 0.
func (c *Cloud) FenceWrites(ctx context.Context, region string) error {
	return c.API.Fence(ctx, labapi.FenceRequest{Region: region, Fence: true})
}

// UnfenceWrites lifts the fence.
func (c *Cloud) UnfenceWrites(ctx context.Context, region string) error {
	return c.API.Fence(ctx, labapi.FenceRequest{Region: region, Fence: false})
}

// WritesFenced reads region's fence from the daemon; like Lambda's API in
// a lost Region, a Region that is down does not answer.
func (c *Cloud) WritesFenced(ctx context.Context, region string) (bool, error) {
	st, err := c.API.Status(ctx)
	if err != nil {
		return false, err
	}
	if slices.Contains(st.Down, region) {
		return false, fmt.Errorf("%s is down: its payment function's fence cannot be read", region)
	}
	s, ok := st.Services[region]
	if !ok {
		return false, fmt.Errorf("%q is not a Region of the lab", region)
	}
	return s.Fenced, nil
}

// OldPrimaryFenced: the lab's topology no longer names region the writer,
// as awsops reads DescribeGlobalClusters; the database itself may still
// take writes (failover-fence topology-only, a frozen or partitioned old
// primary), as on AWS.
func (c *Cloud) OldPrimaryFenced(ctx context.Context, region string) (bool, error) {
	cl, err := c.API.Cluster(ctx)
	if err != nil {
		return false, err
	}
	for _, m := range cl.Members {
		if m.Region == region {
			return !m.Writer, nil
		}
	}
	return false, fmt.Errorf("%q is not a Region of the lab", region)
}

// KeepOldPrimaryData keeps the old primary's database as it is (it is
// dumped before any rebuild) and returns a reference to it.
func (c *Cloud) KeepOldPrimaryData(ctx context.Context, oldRegion string) (string, error) {
	ref, err := c.API.Keep(ctx, oldRegion)
	var le *labapi.Error
	if errors.As(err, &le) && le.Status == http.StatusConflict {
		return "", fmt.Errorf("keeping %s's data: %w", oldRegion, err)
	}
	return ref, err
}

// ReconcileDSNs are the go-sql-driver DSNs (admin user) drctl reconcile
// reads: the old primary's data (kept aside when the Region
// resynchronised, or its diverged database until then) and the current
// writer's payment database.
func (c *Cloud) ReconcileDSNs(ctx context.Context, oldRegion string) (src, dst string, err error) {
	old, ok := c.Lab.Regions[oldRegion]
	if !ok {
		return "", "", fmt.Errorf("%q is not a Region of the lab", oldRegion)
	}
	db, err := c.API.KeptDatabase(ctx, oldRegion)
	if err != nil {
		return "", "", err
	}
	cl, err := c.API.Cluster(ctx)
	if err != nil {
		return "", "", err
	}
	if cl.Writer == oldRegion {
		return "", "", fmt.Errorf("%s holds the writer again", oldRegion)
	}
	mc, err := mysql.ParseDSN(old.MySQLAdminDSN)
	if err != nil {
		return "", "", err
	}
	mc.DBName = db
	return mc.FormatDSN(), c.Lab.Regions[cl.Writer].MySQLAdminDSN, nil
}

// Open implements reconcile.Access: the DSNs are resolved when reconcile
// runs, because the old primary's data moves to its kept copy when the
// Region resynchronises, and the writer is wherever it is now.
func (c *Cloud) Open(ctx context.Context, oldRegion string) (reconcile.Source, reconcile.Target, func(context.Context) error, error) {
	src, dst, err := c.ReconcileDSNs(ctx, oldRegion)
	if err != nil {
		return nil, nil, nil, err
	}
	return reconcile.DSNAccess{Old: map[string]string{oldRegion: src}, Writer: dst}.Open(ctx, oldRegion)
}

// APIBaseURL is the lab daemon's API root (http://host:port), where it
// also serves ARC Region switch's execution API (package arcapi) for SDK
// clients pointed at it with BaseEndpoint.
func (c *Cloud) APIBaseURL() string { return "http://" + c.State.Control }
