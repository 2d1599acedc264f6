// Package labapi is the lab daemon's control API on loopback: its message
// types and a small client used by drlab's commands and by labcloud
// (drctl's lab implementation of its cloud).
package labapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Member is one Region's database.
type Member struct {
	Region    string `json:"region"`
	Writer    bool   `json:"writer"`
	Reachable bool   `json:"reachable"`
	ReadOnly  bool   `json:"readOnly"`
	// Status: available, or unavailable when the server does not answer.
	Status string `json:"status"`
	// Sync: connected (replicating from the writer and caught up: it
	// applied a heartbeat the current writer wrote), pending-resync
	// (diverged after an unplanned failover, or not caught up), "" for
	// the writer.
	Sync     string `json:"sync"`
	Diverged bool   `json:"diverged"`
	Stalled  bool   `json:"stalled"`
	// Frozen: its server is stopped (db-freeze) and not asked anything.
	Frozen     bool   `json:"frozen"`
	IORunning  bool   `json:"ioRunning"`
	SQLRunning bool   `json:"sqlRunning"`
	ReplError  string `json:"replError,omitempty"`
	// LagMs is now minus the newest heartbeat applied here (-1 unknown).
	LagMs int64  `json:"lagMs"`
	GTID  string `json:"gtid,omitempty"`
}

// Statuses of a member and of the cluster, as RDS names them.
const (
	Available     = "available"
	Unavailable   = "unavailable"
	SwitchingOver = "switching-over"
	FailingOver   = "failing-over"
)

// Sync states of a member that is not the writer.
const (
	SyncConnected     = "connected"
	SyncPendingResync = "pending-resync"
)

// Cluster is the pair of databases.
type Cluster struct {
	Writer  string   `json:"writer"`
	Status  string   `json:"status"` // Available, SwitchingOver, FailingOver
	Members []Member `json:"members"`
	Move    *Move    `json:"move,omitempty"` // the move in progress, if any
}

// Step is one progress line of a move.
type Step struct {
	At  time.Time `json:"at"`
	Msg string    `json:"msg"`
}

// Kinds of move.
const (
	Switchover = "switchover"
	Failover   = "failover"
)

// Statuses of a move: MovePending, then MoveRunning (RDS shows any move
// in progress as failing-over), MoveCancelling if it is undone before the
// promotion, and MoveDone or MoveFailed.
const (
	MovePending    = "pending"
	MoveRunning    = FailingOver
	MoveCancelling = "cancelling"
	MoveDone       = "done"
	MoveFailed     = "failed"
)

// Move is a switchover or failover and its progress.
type Move struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"` // Switchover or Failover
	From          string    `json:"from"`
	To            string    `json:"to"`
	AllowDataLoss bool      `json:"allowDataLoss"`
	Status        string    `json:"status"` // MovePending, MoveRunning, MoveCancelling, MoveDone, MoveFailed
	Steps         []Step    `json:"steps"`
	Error         string    `json:"error,omitempty"`
	Requested     time.Time `json:"requested"`
	Finished      time.Time `json:"finished,omitzero"`
}

// InProgress reports whether the move is still running.
func (m *Move) InProgress() bool {
	return m != nil && (m.Status == MovePending || m.Status == MoveRunning || m.Status == MoveCancelling)
}

// MoveRequest asks for a move.
type MoveRequest struct {
	Kind          string `json:"kind"`
	To            string `json:"to"`
	AllowDataLoss bool   `json:"allowDataLoss"`
}

// FaultRequest injects or clears a fault (faults.go lists the kinds).
type FaultRequest struct {
	Kind string   `json:"kind"`
	Args []string `json:"args"`
}

// FenceRequest fences (or unfences) a Region's payment service: its
// gateway refuses every request while fenced.
type FenceRequest struct {
	Region string `json:"region"`
	Fence  bool   `json:"fence"`
}

// RegionRequest names the Region whose kept data is asked for.
type RegionRequest struct {
	Region string `json:"region"`
}

// KeepResponse is the reference of a Region's kept data.
type KeepResponse struct {
	Ref string `json:"ref"`
}

// KeptResponse names the database holding a Region's kept data.
type KeptResponse struct {
	Database string `json:"database"`
}

// ErrorResponse is the body of every refusal.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Empty is the body of an answer that carries nothing.
type Empty struct{}

// Service is one Region's payment service.
type Service struct {
	Running bool `json:"running"`
	// Fenced: its gateway refuses every request (drctl's fence).
	Fenced     bool   `json:"fenced"`
	Health     int    `json:"health"` // HTTP status of GET /health, 0 if no answer
	HealthBody string `json:"healthBody,omitempty"`
}

// Check is one Region's health check.
type Check struct {
	Healthy    bool      `json:"healthy"`
	LastStatus int       `json:"lastStatus"`
	LastCheck  time.Time `json:"lastCheck"`
}

// Status is everything `drlab status` shows.
type Status struct {
	Cluster      Cluster            `json:"cluster"`
	Services     map[string]Service `json:"services"`
	Checks       map[string]Check   `json:"healthChecks"`
	Answer       string             `json:"answer"`           // the failover record now
	CachedAnswer string             `json:"cachedAnswer"`     // what the front door's resolver holds
	FloorMs      int64              `json:"detectionFloorMs"` // frontdoor.Options.Floor
	Link         LinkState          `json:"link"`
	Down         []string           `json:"regionsDown"`
	Partitioned  []string           `json:"regionsPartitioned"`
	WitnessDown  bool               `json:"witnessDown"` // the journal's witness cut off (witness-down)
	// JournalCuts are the pairs of journal members cut by journal-cut,
	// each "A|B" with A before B.
	JournalCuts []string `json:"journalCuts"`
	// Frozen are the Regions whose database is frozen (db-freeze).
	Frozen []string `json:"databasesFrozen"`
	// ClockOffsets are the clocks clock-offset shifted (a Region's payment
	// service, or drctl's), in milliseconds.
	ClockOffsets map[string]int64 `json:"clockOffsetsMs,omitempty"`
	// FailoverFence is failover-fence's mode.
	FailoverFence string `json:"failoverFence"`
	// JournalLeader is the member leading the journal's consensus, as
	// each Region's member sees it ("" when it knows none).
	JournalLeader map[string]string `json:"journalLeader"`
	LastMove      *Move             `json:"lastMove,omitempty"`
	Events        map[string]int    `json:"events"` // events recorded per Region's bus
	// RegionSwitch is the lab's ARC Region switch: its plan, triggers and
	// latest execution.
	RegionSwitch RegionSwitch `json:"regionSwitch"`
}

// RegionSwitch is the state of the lab's Region switch stand-in.
type RegionSwitch struct {
	// Plan is the plan's ARN ("" when the lab runs none; Error says why).
	Plan  string `json:"plan"`
	Error string `json:"error,omitempty"`
	// Triggers is the arc-triggers mode (off, approve, auto).
	Triggers string `json:"triggers"`
	// Controlled is the Region ARC's health checks name ("" when the
	// Regions' own checks answer).
	Controlled string           `json:"controlled"`
	Latest     *RegionSwitchRun `json:"latest,omitempty"`
}

// RegionSwitchRun is one execution as status shows it.
type RegionSwitchRun struct {
	ID              string    `json:"id"`
	Action          string    `json:"action"`
	Mode            string    `json:"mode"`
	Region          string    `json:"region"`
	State           string    `json:"state"`
	Comment         string    `json:"comment,omitempty"`
	Started         time.Time `json:"started"`
	Ended           time.Time `json:"ended,omitzero"`
	PendingApproval string    `json:"pendingApproval,omitempty"`
	// ApprovalAsked is when the approval step began waiting.
	ApprovalAsked time.Time `json:"approvalAsked,omitzero"`
}

// LinkState is the inter-Region link.
type LinkState struct {
	LatencyMs int64           `json:"latencyMs"`
	Cut       map[string]bool `json:"cut"`
}

// Paths of the API; GET for PathCluster and PathStatus, POST otherwise.
const (
	PathCluster  = "/v1/cluster"
	PathStatus   = "/v1/status"
	PathMove     = "/v1/move"
	PathFault    = "/v1/fault"
	PathFence    = "/v1/fence"
	PathKeep     = "/v1/keep"
	PathKept     = "/v1/kept"
	PathShutdown = "/v1/shutdown"
)

// Client calls the daemon.
type Client struct {
	Addr string // host:port
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Error is a refusal by the daemon.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Do sends in (nil for GET) to path and decodes the answer into out.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("the lab daemon at %s did not answer (is the lab up?): %w", c.Addr, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 300 {
		var e ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return &Error{Status: resp.StatusCode, Msg: e.Error}
		}
		return &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Cluster reads the topology.
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	var out Cluster
	return out, c.Do(ctx, http.MethodGet, PathCluster, nil, &out)
}

// Status reads everything.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	return out, c.Do(ctx, http.MethodGet, PathStatus, nil, &out)
}

// RequestMove asks for a move; it returns once the move is accepted.
func (c *Client) RequestMove(ctx context.Context, r MoveRequest) (Move, error) {
	var out Move
	return out, c.Do(ctx, http.MethodPost, PathMove, r, &out)
}

// Fault injects a fault.
func (c *Client) Fault(ctx context.Context, r FaultRequest) error {
	return c.Do(ctx, http.MethodPost, PathFault, r, nil)
}

// Fence fences or unfences a Region's database.
func (c *Client) Fence(ctx context.Context, r FenceRequest) error {
	return c.Do(ctx, http.MethodPost, PathFence, r, nil)
}

// Keep keeps the old primary's data and returns its reference.
func (c *Client) Keep(ctx context.Context, region string) (string, error) {
	var out KeepResponse
	return out.Ref, c.Do(ctx, http.MethodPost, PathKeep, RegionRequest{Region: region}, &out)
}

// Shutdown stops the lab.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, PathShutdown, nil, nil)
}

// KeptDatabase names the database holding region's old primary data.
func (c *Client) KeptDatabase(ctx context.Context, region string) (string, error) {
	var out KeptResponse
	return out.Database, c.Do(ctx, http.MethodPost, PathKept, RegionRequest{Region: region}, &out)
}
