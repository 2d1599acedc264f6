package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/arcapi"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/repl"
)

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(f string, a ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(f, a...)}
}
func conflict(f string, a ...any) error { return &apiError{http.StatusConflict, fmt.Sprintf(f, a...)} }

func (d *Daemon) api() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			out, err := f(r.Context(), body)
			w.Header().Set("Content-Type", "application/json")
			if err != nil {
				status := http.StatusInternalServerError
				var ae *apiError
				if errors.As(err, &ae) {
					status = ae.status
				}
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(labapi.ErrorResponse{Error: err.Error()})
				return
			}
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	mux.Handle(arcapi.PathPrefix, d.arcAPI())
	handle("GET "+labapi.PathCluster, func(ctx context.Context, _ []byte) (any, error) { return d.cluster(ctx), nil })
	handle("GET "+labapi.PathStatus, func(ctx context.Context, _ []byte) (any, error) { return d.status(ctx), nil })
	handle("POST "+labapi.PathMove, func(ctx context.Context, b []byte) (any, error) {
		var req labapi.MoveRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return d.startMove(req)
	})
	handle("POST "+labapi.PathFault, func(ctx context.Context, b []byte) (any, error) {
		var req labapi.FaultRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return labapi.Empty{}, d.fault(ctx, req)
	})
	handle("POST "+labapi.PathFence, func(ctx context.Context, b []byte) (any, error) {
		var req labapi.FenceRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return labapi.Empty{}, d.fence(ctx, req)
	})
	handle("POST "+labapi.PathKeep, func(ctx context.Context, b []byte) (any, error) {
		var req labapi.RegionRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		ref, err := d.keep(req.Region)
		return labapi.KeepResponse{Ref: ref}, err
	})
	handle("POST "+labapi.PathKept, func(ctx context.Context, b []byte) (any, error) {
		var req labapi.RegionRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		db, err := d.keptDatabase(req.Region)
		return labapi.KeptResponse{Database: db}, err
	})
	handle("POST "+labapi.PathShutdown, func(context.Context, []byte) (any, error) {
		go func() { time.Sleep(50 * time.Millisecond); d.stop() }()
		return labapi.Empty{}, nil
	})
	return mux
}

// decode reads a request body strictly: a field the request type does not
// name is refused rather than ignored.
func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("bad request body: %v", err)
	}
	return nil
}

// fence fences (or unfences) a Region's payment service as AWS does with
// the function's reserved concurrency: its gateway refuses every request
// until unfenced, whatever its database's state. Like Lambda's API in a
// lost Region, a Region that is down cannot be asked.
func (d *Daemon) fence(_ context.Context, r labapi.FenceRequest) error {
	if !d.isRegion(r.Region) {
		return badRequest("%q is not a Region of the lab", r.Region)
	}
	if d.topology().Down[r.Region] {
		return conflict("%s is down: its payment function's fence cannot be changed", r.Region)
	}
	if err := d.setTopology(func(t *Topology) {
		if r.Fence {
			t.Fenced[r.Region] = true
		} else {
			delete(t.Fenced, r.Region)
		}
	}); err != nil {
		return err
	}
	d.parts[r.Region].gateway.SetFenced(r.Fence)
	return nil
}

// member observes one Region's database.
func (d *Daemon) member(ctx context.Context, region string, top Topology) labapi.Member {
	m := labapi.Member{Region: region, Writer: top.Writer == region, Status: labapi.Unavailable, LagMs: -1,
		Diverged: top.Diverged[region], Stalled: top.Stalled[region], Frozen: top.Frozen[region]}
	if top.Down[region] || top.Frozen[region] {
		// A frozen server would hold each query until its timeout.
		return m
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n := d.node(region)
	ro, err := repl.ReadOnly(ctx, n)
	if err != nil {
		return m
	}
	m.Reachable, m.ReadOnly, m.Status = true, ro, labapi.Available
	m.GTID, _ = repl.BinlogPos(ctx, n)
	if m.Writer {
		return m
	}
	st, err := repl.ReplicaStatus(ctx, n)
	if err == nil {
		m.IORunning, m.SQLRunning, m.ReplError = st.IORunning, st.SQLRunning, st.LastError
	}
	from, lag, herr := d.newestHeartbeat(ctx, region)
	if herr == nil && !m.Diverged {
		m.LagMs = lag.Milliseconds()
	}
	m.Sync = syncStatus(m, st, from == top.Writer)
	return m
}

// syncStatus is RDS's SynchronizationStatus of a replica as the lab sees
// it: connected once it replicates from the writer (or was stalled on
// purpose) and has applied a heartbeat the current writer wrote, so a
// member that has not caught up after the writer moved is not in sync.
func syncStatus(m labapi.Member, st repl.Status, caughtUp bool) string {
	switch {
	case m.Diverged:
		return labapi.SyncPendingResync
	case !st.Configured:
		return ""
	case caughtUp && (m.Stalled || (st.IORunning && st.SQLRunning && st.LastError == "")):
		return labapi.SyncConnected
	}
	return labapi.SyncPendingResync
}

// cluster is the topology with each member observed now.
//
// The move is read before the topology: a move sets the new writer before
// it reports itself done, so this order never shows the old writer with
// no move in progress once a move has finished (which drctl would read as
// a cancelled move).
func (d *Daemon) cluster(ctx context.Context) labapi.Cluster {
	d.mu.Lock()
	var move *labapi.Move
	if d.move.InProgress() {
		mv := *d.move
		move = &mv
	}
	d.mu.Unlock()
	top := d.topology()
	c := labapi.Cluster{Writer: top.Writer, Status: labapi.Available, Move: move}
	if move != nil {
		c.Status = labapi.SwitchingOver
		if move.Kind == labapi.Failover {
			c.Status = labapi.FailingOver
		}
	}
	members := make([]labapi.Member, 2)
	var wg sync.WaitGroup
	for i, r := range d.regions() {
		wg.Add(1)
		go func() { defer wg.Done(); members[i] = d.member(ctx, r, top) }()
	}
	wg.Wait()
	c.Members = members
	return c
}

// status is everything drlab status shows.
func (d *Daemon) status(ctx context.Context) labapi.Status {
	s := labapi.Status{Cluster: d.cluster(ctx), Services: map[string]labapi.Service{}, Checks: map[string]labapi.Check{},
		Answer: d.door.Answer(), CachedAnswer: d.door.CachedAnswer(), FloorMs: d.doorOptions().Floor().Milliseconds(),
		Events: map[string]int{}}
	ls := d.link.State()
	s.Link = labapi.LinkState{LatencyMs: ls.LatencyMs, Cut: ls.Cut}
	for r, c := range d.door.State() {
		s.Checks[r] = labapi.Check{Healthy: c.Healthy, LastStatus: c.LastStatus, LastCheck: c.LastCheck}
	}
	top := d.topology()
	for r := range top.Down {
		s.Down = append(s.Down, r)
	}
	sort.Strings(s.Down)
	for r := range top.Partitioned {
		s.Partitioned = append(s.Partitioned, r)
	}
	sort.Strings(s.Partitioned)
	s.WitnessDown, s.JournalCuts, s.Frozen = top.WitnessDown, sortedKeys(top.JournalCuts), sortedKeys(top.Frozen)
	s.FailoverFence = labapi.FenceBestEffort
	if top.TopologyOnlyFence {
		s.FailoverFence = labapi.FenceTopologyOnly
	}
	for c, off := range top.ClockOffsets {
		if s.ClockOffsets == nil {
			s.ClockOffsets = map[string]int64{}
		}
		s.ClockOffsets[c] = off.Milliseconds()
	}
	s.JournalLeader = map[string]string{}
	for _, r := range d.regions() {
		s.JournalLeader[r] = d.journal.Leader(r)
	}
	s.RegionSwitch = d.regionSwitchStatus(ctx)
	d.mu.Lock()
	if d.move != nil {
		mv := *d.move
		s.LastMove = &mv
	}
	d.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	for _, r := range d.regions() {
		s.Events[r] = d.parts[r].bus.Received()
		svc := d.service(r)
		sv := labapi.Service{Running: svc != nil && svc.Running(), Fenced: top.Fenced[r]}
		if resp, err := client.Get(d.apiURL(r) + "/health"); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			sv.Health, sv.HealthBody = resp.StatusCode, string(b)
		}
		s.Services[r] = sv
	}
	return s
}

// sortedKeys lists a fault's recorded members for status, sorted (an
// empty list, not null, when none).
func sortedKeys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
