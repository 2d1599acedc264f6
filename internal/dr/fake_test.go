package dr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// world is a typed fake of the two Regions: the global cluster, each
// Region's database (canary payment ids), health, parameters. Switchover
// and failover take `moves` polls of GlobalCluster to complete, like the
// real asynchronous APIs.
type world struct {
	mu       sync.Mutex
	regions  []string
	writer   string
	status   string
	memberSt map[string]string
	pending  string // target of a move in progress
	moves    int
	calls    []string
	lag      map[string]time.Duration
	params   map[string]map[string]string
	down     map[string]bool // Region lost (API and database)
	data     map[string]map[string]bool
	// replicate=false: writes stay in the writer's Region (lag).
	replicate bool
	denied    []string
	backups   map[string]time.Time
	records   []string
	failPut   map[string]int // Region -> PutParameter failures to inject
	allowLoss []bool
	seq       int
}

func newWorld() *world {
	w := &world{
		regions: []string{"us-east-1", "us-west-2"}, writer: "us-east-1", status: "available",
		memberSt: map[string]string{"us-east-1": "available", "us-west-2": "available"},
		lag:      map[string]time.Duration{"us-west-2": 800 * time.Millisecond, "us-east-1": 0},
		params:   map[string]map[string]string{"us-east-1": {}, "us-west-2": {}},
		down:     map[string]bool{}, data: map[string]map[string]bool{"us-east-1": {}, "us-west-2": {}},
		replicate: true, backups: map[string]time.Time{}, failPut: map[string]int{},
	}
	for _, r := range w.regions {
		w.params[r]["/payment/dev/dr/active-region"] = "us-east-1"
		w.backups[r] = time.Now().Add(-3 * time.Hour)
	}
	return w
}

func (w *world) call(s string) { w.calls = append(w.calls, s) }

func (w *world) GlobalCluster(context.Context) (GlobalCluster, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("DescribeGlobalClusters")
	if w.pending != "" {
		w.moves--
		if w.moves <= 0 {
			w.writer, w.pending, w.status = w.pending, "", "available"
		}
	}
	g := GlobalCluster{ID: "payments-global-dev", Status: w.status}
	for _, r := range w.regions {
		st := w.memberSt[r]
		if w.down[r] {
			st = "inaccessible"
		}
		g.Members = append(g.Members, Member{Region: r, Writer: r == w.writer, Status: st, Endpoint: "payments-" + r + "-dev.cluster-x." + r + ".rds.amazonaws.com",
			ClusterARN: "arn:aws:rds:" + r + ":111111111111:cluster:payments-" + r + "-dev"})
	}
	return g, nil
}

func (w *world) move(target string, op string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call(op + " " + target)
	if w.pending != "" {
		return errors.New("InvalidGlobalClusterStateFault: a switchover is already in progress")
	}
	if w.writer == target {
		return errors.New("InvalidGlobalClusterStateFault: already the writer")
	}
	w.pending, w.moves, w.status = target, 2, "switching-over"
	return nil
}

func (w *world) Switchover(_ context.Context, region string) error {
	if w.down[w.writer] {
		return errors.New("InvalidGlobalClusterStateFault: the writer's Region is unavailable")
	}
	return w.move(region, "SwitchoverGlobalCluster")
}

func (w *world) Failover(_ context.Context, region string, allowDataLoss bool) error {
	w.mu.Lock()
	w.allowLoss = append(w.allowLoss, allowDataLoss)
	w.mu.Unlock()
	return w.move(region, "FailoverGlobalCluster")
}

func (w *world) ReplicationLag(_ context.Context, region string) (time.Duration, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lag[region], nil
}
func (w *world) TableReplicationLatency(context.Context, string) (time.Duration, error) {
	return 400 * time.Millisecond, nil
}
func (w *world) TableReplicas(context.Context) ([]Replica, error) {
	return []Replica{{"us-east-1", "ACTIVE"}, {"us-west-2", "ACTIVE"}}, nil
}

func (w *world) writable(region string) bool {
	return w.writer == region && w.pending == "" && !w.down[region]
}

func (w *world) HealthCheckHealthy(_ context.Context, region string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writable(region), nil
}
func (w *world) FailoverRecordsHaveHealthChecks(context.Context) ([]string, error) {
	return w.records, nil
}

func (w *world) Health(_ context.Context, region string) (RegionHealth, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down[region] {
		return RegionHealth{}, fmt.Errorf("dial api-%s: connection refused", region)
	}
	return RegionHealth{Reachable: true, DBWritable: w.writable(region), TableReachable: true}, nil
}

func (w *world) Parameter(_ context.Context, region, name string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down[region] {
		return "", errors.New("ssm unreachable")
	}
	return w.params[region][name], nil
}

func (w *world) PutParameter(_ context.Context, region, name, value string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("PutParameter " + region + " " + name + "=" + value)
	if w.failPut[region] > 0 {
		w.failPut[region]--
		return errors.New("ThrottlingException: Rate exceeded")
	}
	if w.down[region] {
		return errors.New("ssm unreachable")
	}
	w.params[region][name] = value
	return nil
}

func (w *world) NewestRecoveryPoint(_ context.Context, region string) (time.Time, error) {
	return w.backups[region], nil
}
func (w *world) FunctionActive(context.Context, string) (bool, error) { return true, nil }
func (w *world) DeniedActions(context.Context) ([]string, error)      { return w.denied, nil }

// canary writes through the failover name: it reaches the Region Route 53
// considers healthy, which takes writes only when it holds the writer.
type canary struct{ w *world }

func (c canary) Write(_ context.Context, key string) (string, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.regions {
		if w.writable(r) {
			w.seq++
			id := fmt.Sprintf("p%04d", w.seq)
			w.data[r][id] = true
			if w.replicate {
				for _, o := range w.regions {
					w.data[o][id] = true
				}
			}
			return id, nil
		}
	}
	return "", errors.New("503 region_read_only")
}

func (c canary) Read(_ context.Context, region, id string) (bool, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.w.data[region][id], nil
}

func (w *world) called(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		if len(c) >= len(prefix) && c[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}
