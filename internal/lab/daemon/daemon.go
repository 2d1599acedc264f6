// Package daemon is the lab's long-running process (`drlab serve`): it
// starts and owns every part of the lab (two MariaDB servers in GTID
// replication, dynalite, the two payment services), holds the parts that
// live in memory (the Toxiproxy link, the Route 53 stand-in and its DNS
// server, the event buses, the Secrets Manager stand-in, the heartbeat)
// and serves the control API through which faults are injected and the
// database is moved. Moves run here, not in the caller, so that like an
// Aurora request they complete even when the caller (drctl) is killed.
package daemon

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/lab/frontdoor"
	"github.com/payment-dr/payment-dr/internal/lab/gateway"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/link"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/lab/mrsc"
	"github.com/payment-dr/payment-dr/internal/lab/regionswitch"
	"github.com/payment-dr/payment-dr/internal/lab/repl"
	"github.com/payment-dr/payment-dr/internal/proc"
)

// Options are `drlab up`'s flags as passed to `drlab serve`.
type Options struct {
	Dir            string
	ConfigPath     string
	LinkLatency    time.Duration
	WitnessLatency time.Duration
	// SecondaryWitnessLatency, when set, is the secondary Region's own
	// latency to the witness (AWS's witness is nearer one replica).
	SecondaryWitnessLatency *time.Duration
	CheckInterval           time.Duration
	FailureThreshold        int
	TTL                     time.Duration
	PaymentsBin             string
	Dynalite                string
	// Templates is the directory of the synthesized templates whose ARC
	// Region switch plan the lab runs ("" or no plan: no Region switch).
	Templates string
	// ARCTriggers is the arc-triggers mode to start with.
	ARCTriggers string
}

// Topology is what the lab knows of its database roles, kept in
// DIR/topology.json so a status after a daemon restart is still right.
type Topology struct {
	Writer   string            `json:"writer"`
	Diverged map[string]bool   `json:"diverged"` // old primaries of an unplanned failover, not yet rebuilt
	Stalled  map[string]bool   `json:"stalled"`  // replication stopped by the replication-stall fault
	Down     map[string]bool   `json:"down"`     // region-down in force
	Kept     map[string]string `json:"kept"`     // the old primary's data kept for reconciliation
	// Fenced: Regions whose payment service is fenced (their gateway
	// refuses every request), like a reserved concurrency of 0: a
	// control-plane setting that outlives a Region's outage.
	Fenced map[string]bool `json:"fenced"`
	// Writable: old primaries that came back with their database still
	// accepting writes (region-up --writable) until Aurora rejoins them.
	Writable map[string]bool `json:"writable"`
	// Partitioned Regions are cut from the other Region and the journal's
	// witness (partition in force); their service and database run.
	Partitioned map[string]bool `json:"partitioned"`
	// WitnessDown: the journal's witness is cut off from both Regions
	// (witness-down in force).
	WitnessDown bool `json:"witnessDown"`
	// JournalCuts: pairs of journal members whose links journal-cut cut,
	// keyed by journalPair.
	JournalCuts map[string]bool `json:"journalCuts"`
	// Frozen: Regions whose database server is stopped (db-freeze).
	Frozen map[string]bool `json:"frozen"`
	// ClockOffsets: clocks clock-offset shifted (a Region's payment
	// service, or labapi.DrctlClock), by how much.
	ClockOffsets map[string]time.Duration `json:"clockOffsets"`
	// TopologyOnlyFence: failover-fence topology-only is in force.
	TopologyOnlyFence bool `json:"topologyOnlyFence"`
}

// Daemon is the running lab.
type Daemon struct {
	opt   Options
	dir   labdir.Dir
	cfg   config.Config
	state labdir.State
	bins  backends.Binaries
	ports *ports

	parts    map[string]*region // by Region name
	dynalite *proc.Proc
	link     *link.Link
	journal  *mrsc.Cluster // the payment journal's MRSC stand-in
	door     *frontdoor.Door
	arc      *regionswitch.Engine // nil when the templates hold no plan; guarded by mu
	arcErr   error                // why arc is nil; guarded by mu
	arcHTTP  atomic.Value         // http.Handler of arc's execution API, once it runs
	servers  []server             // in-process servers, closed on shutdown

	mu     sync.Mutex // guards topo, move and each region's service
	topo   Topology
	move   *labapi.Move
	moveMu sync.Mutex // one move or fault at a time
	stop   context.CancelFunc
}

// region is what the lab runs for one Region.
type region struct {
	name    string
	server  *backends.MariaDB
	admin   *sql.DB // admin user, direct port
	hb      *sql.DB // heartbeat user, direct port
	bus     *backends.EventBus
	gateway *gateway.Gateway // API Gateway's stand-in in front of the service
	service *proc.Proc       // the payment service; guarded by Daemon.mu
}

// server is an in-process server the daemon stops on shutdown.
type server interface{ Close() error }

// Regions in config order: primary first.
func (d *Daemon) regions() []string { return d.cfg.Regions() }

func (d *Daemon) node(region string) repl.Node {
	return repl.Node{Region: region, Admin: d.parts[region].admin, LinkHost: mariadb.Host, LinkPort: d.state.LinkPorts[region]}
}

// isRegion reports whether name is one of the lab's two Regions.
func (d *Daemon) isRegion(name string) bool {
	_, ok := d.parts[name]
	return ok
}

// service is region's payment service process, nil before it started.
func (d *Daemon) service(region string) *proc.Proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.parts[region].service
}

func (d *Daemon) replAccount() repl.Repl {
	return repl.Repl{User: mariadb.ReplUser, Password: d.state.Passwords[mariadb.ReplUser]}
}

func (d *Daemon) topology() Topology {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.topo
	t.Diverged, t.Stalled, t.Down, t.Kept = copyMap(t.Diverged), copyMap(t.Stalled), copyMap(t.Down), copyMap(t.Kept)
	t.Partitioned, t.JournalCuts, t.Frozen = copyMap(t.Partitioned), copyMap(t.JournalCuts), copyMap(t.Frozen)
	t.Fenced, t.Writable, t.ClockOffsets = copyMap(t.Fenced), copyMap(t.Writable), copyMap(t.ClockOffsets)
	return t
}

// setTopology changes the topology under the lock and persists it.
func (d *Daemon) setTopology(f func(*Topology)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.topo)
	return d.dir.WriteJSON("topology.json", d.topo)
}

func copyMap[V any](m map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
