package daemon

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/lab/repl"
)

// MovesLog is DIR/moves.jsonl: one line per accepted move request, so a
// test can tell that a resumed drctl did not move the writer twice.
const MovesLog = "moves.jsonl"

// startMove validates a move like RDS validates SwitchoverGlobalCluster /
// FailoverGlobalCluster, records it and runs it in the background: the
// request returns before the move completes, and GET /v1/cluster shows
// its progress.
func (d *Daemon) startMove(req labapi.MoveRequest) (labapi.Move, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.move.InProgress() {
		return labapi.Move{}, conflict("a %s to %s is already in progress (%s)", d.move.Kind, d.move.To, d.move.ID)
	}
	if req.To != d.cfg.PrimaryRegion && req.To != d.cfg.SecondaryRegion {
		return labapi.Move{}, badRequest("%q is not a Region of the lab", req.To)
	}
	if req.Kind != labapi.Switchover && req.Kind != labapi.Failover {
		return labapi.Move{}, badRequest("kind must be %s or %s, not %q", labapi.Switchover, labapi.Failover, req.Kind)
	}
	if d.topo.Writer == req.To {
		return labapi.Move{}, conflict("%s already holds the writer", req.To)
	}
	if d.topo.Down[req.To] {
		return labapi.Move{}, conflict("%s is down (region-down): it cannot take the writer", req.To)
	}
	planned := req.Kind == labapi.Switchover || !req.AllowDataLoss
	if planned && d.topo.Down[d.topo.Writer] {
		return labapi.Move{}, conflict("the writer's Region %s is down: a switchover needs it; fail over with data loss allowed", d.topo.Writer)
	}
	m := labapi.Move{ID: "move-" + strconv.FormatInt(time.Now().UnixNano(), 36), Kind: req.Kind, From: d.topo.Writer, To: req.To,
		AllowDataLoss: req.AllowDataLoss && !planned, Status: labapi.MovePending, Requested: time.Now().UTC()}
	if err := labdir.AppendJSONLine(d.dir.Path(MovesLog), m); err != nil {
		return labapi.Move{}, err
	}
	d.move = &m
	if err := d.dir.WriteJSON("move.json", m); err != nil {
		return labapi.Move{}, err
	}
	go d.runMove(m, planned)
	return m, nil
}

// runMove performs the move and records every step.
func (d *Daemon) runMove(m labapi.Move, planned bool) {
	d.moveMu.Lock()
	defer d.moveMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d.updateMove(func(m *labapi.Move) { m.Status = labapi.MoveRunning })
	step := func(s string) {
		log.Printf("%s %s -> %s: %s", m.Kind, m.From, m.To, s)
		d.updateMove(func(m *labapi.Move) { m.Steps = append(m.Steps, labapi.Step{At: time.Now().UTC(), Msg: s}) })
	}
	var err error
	if planned {
		err = d.switchover(ctx, m.From, m.To, step)
	} else {
		err = d.failover(ctx, m.From, m.To, step)
	}
	log.Printf("%s %s -> %s: finished (error: %v)", m.Kind, m.From, m.To, err)
	d.releaseControl()
	d.updateMove(func(m *labapi.Move) {
		m.Finished = time.Now().UTC()
		m.Status = labapi.MoveDone
		if err != nil {
			m.Status, m.Error = labapi.MoveFailed, err.Error()
		}
	})
}

func (d *Daemon) updateMove(f func(*labapi.Move)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.move)
	_ = d.dir.WriteJSON("move.json", d.move)
}

// switchover: rebuild the target first if it diverged (the failback after
// an unplanned failover), then fence, wait, promote, demote. A failure
// before the promotion cancels: the old writer is unfenced.
func (d *Daemon) switchover(ctx context.Context, from, to string, step func(string)) error {
	if d.topology().Diverged[to] {
		return fmt.Errorf("%s diverged after an unplanned failover: resynchronise it first (drlab fault region-up %s)", to, to)
	}
	if d.topology().Stalled[to] {
		step("resume replication into " + to)
		if err := repl.Resume(ctx, d.node(to)); err != nil {
			return err
		}
		_ = d.setTopology(func(t *Topology) { delete(t.Stalled, to) })
	}
	promoted := false
	err := repl.Switchover(ctx, d.node(from), d.node(to), d.replAccount(), func(s string) {
		if s == "promote "+to {
			promoted = true
		}
		step(s)
	})
	if err != nil && !promoted {
		d.updateMove(func(m *labapi.Move) { m.Status = labapi.MoveCancelling })
		step("cancel: unfence " + from)
		if uerr := repl.Unfence(ctx, d.node(from)); uerr != nil {
			step("could not unfence " + from + ": " + uerr.Error())
		}
		return err
	}
	if promoted {
		_ = d.setTopology(func(t *Topology) { t.Writer = to })
	}
	return err
}

// failover promotes to without waiting for from; from is fenced if it
// answers (unless failover-fence topology-only), and marked diverged: its
// data is kept as it is until the next switchover to it rebuilds it
// (after keeping a dump).
func (d *Daemon) failover(ctx context.Context, from, to string, step func(string)) error {
	var old *repl.Node
	if top := d.topology(); top.TopologyOnlyFence {
		step("leave " + from + "'s database as it is (failover-fence topology-only)")
	} else if !top.Down[from] {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if d.parts[from].admin.PingContext(pctx) == nil {
			n := d.node(from)
			old = &n
		}
		cancel()
	}
	if err := repl.Failover(ctx, d.node(to), old, step); err != nil {
		return err
	}
	return d.setTopology(func(t *Topology) {
		t.Writer = to
		t.Diverged[from] = true
		delete(t.Kept, from) // this failover's data is kept when from resynchronises
		delete(t.Stalled, to)
	})
}

// resync is Aurora's resynchronisation of an old primary after an
// unplanned failover: its own data is first kept, as it is, in a separate
// database on the same server (DIR/kept/ holds the dump too) for drctl
// reconcile, then the server is rebuilt from the writer and replicates
// again.
func (d *Daemon) resync(ctx context.Context, region, writer string, step func(string)) error {
	n := d.naming()
	if err := os.MkdirAll(d.dir.Path("kept"), 0o700); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("20060102T150405")
	kept := n.DatabaseName() + "_kept_" + strings.NewReplacer("T", "_").Replace(stamp)
	tools := repl.Tools{Client: d.bins.Client, Dump: d.bins.Dump, User: mariadb.AdminUser,
		Password: d.state.Passwords[mariadb.AdminUser], WorkDir: d.dir.Path(region)}
	ne := repl.Endpoint{Region: region, Port: d.ports.db[region]}
	dump := d.dir.Path("kept", region+"-"+stamp+".sql")
	// A resync that failed half-way is run again: its copy is already kept.
	if d.topology().Kept[region] == "" {
		step("keep " + region + "'s data as database " + kept + " (dump " + dump + ")")
		if err := repl.Keep(ctx, d.node(region), ne, tools, n.DatabaseName(), kept, dump); err != nil {
			return err
		}
		if err := d.setTopology(func(t *Topology) { t.Kept[region] = kept }); err != nil {
			return err
		}
	}
	err := repl.Rebuild(ctx, d.node(region), d.node(writer), ne, repl.Endpoint{Region: writer, Port: d.ports.db[writer]},
		tools, d.replAccount(), []string{n.DatabaseName(), mariadb.HeartbeatDB}, step)
	if err != nil {
		return err
	}
	step("wait until " + region + " caught up with " + writer)
	pos, err := repl.BinlogPos(ctx, d.node(writer))
	if err != nil {
		return err
	}
	if err := repl.WaitApplied(ctx, d.node(region), pos, time.Minute); err != nil {
		return err
	}
	return d.setTopology(func(t *Topology) { delete(t.Diverged, region) })
}

// keep returns the reference of region's kept data: the database as it
// is until the Region is back, then the kept copy made before the resync.
func (d *Daemon) keep(region string) (string, error) {
	top := d.topology()
	if !d.isRegion(region) {
		return "", badRequest("%q is not a Region of the lab", region)
	}
	if top.Writer == region {
		return "", conflict("%s holds the writer: there is no old primary data to keep", region)
	}
	if k := top.Kept[region]; k != "" {
		return fmt.Sprintf("lab:%s:database=%s@%s", region, k, d.endpoint(region)), nil
	}
	if top.Diverged[region] {
		return fmt.Sprintf("lab:%s:database=%s@%s (kept as it is; copied aside before %s resynchronises)",
			region, d.naming().DatabaseName(), d.endpoint(region), region), nil
	}
	return "", conflict("%s has not diverged: no unplanned failover left data there", region)
}

// KeptDatabase is where region's kept data can be read now: the kept
// copy once resynchronised, else the diverged database itself.
func (d *Daemon) keptDatabase(region string) (string, error) {
	top := d.topology()
	switch {
	case top.Down[region]:
		return "", conflict("%s is down: bring it back with drlab fault region-up %s", region, region)
	case top.Kept[region] != "":
		return top.Kept[region], nil
	case top.Diverged[region]:
		return d.naming().DatabaseName(), nil
	}
	return "", conflict("%s holds no old primary data (no unplanned failover away from it)", region)
}
