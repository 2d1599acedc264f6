// Package repl holds the lab's database moves between two MariaDB servers
// in GTID replication, as measured in docs/lab-replication.md:
// a switchover that fences, waits for the replica (MASTER_GTID_WAIT) and
// demotes; an unplanned failover that drains the relay log and promotes;
// the rebuild of a diverged old primary from a dump of the writer. Every
// statement runs as the admin user, which bypasses read_only: so no
// function here ever writes data on a node that is not the writer.
package repl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Node is one Region's database as the moves see it.
type Node struct {
	Region string
	Admin  *sql.DB
	// LinkHost, LinkPort are where the OTHER Region's replica connects to
	// reach this node: the inter-Region link (a Toxiproxy port).
	LinkHost string
	LinkPort int
}

// Repl is the replication account.
type Repl struct{ User, Password string }

// FenceLockWait bounds SET GLOBAL read_only=1: it waits for running
// statements, and new writes stall meanwhile.
const FenceLockWait = 5 * time.Second

// Fence makes n read-only with a bounded lock wait (error 1205 when the
// wait runs out: read_only then stays off and the caller may retry).
func Fence(ctx context.Context, n Node) error {
	conn, err := n.Admin.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Region, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout=%d", int(FenceLockWait.Seconds()))); err != nil {
		return fmt.Errorf("%s: %w", n.Region, err)
	}
	if _, err := conn.ExecContext(ctx, "SET GLOBAL read_only=1"); err != nil {
		return fmt.Errorf("fencing %s (read_only=1): %w", n.Region, err)
	}
	return nil
}

// ReadOnly reports n's read_only.
func ReadOnly(ctx context.Context, n Node) (bool, error) {
	var ro bool
	err := n.Admin.QueryRowContext(ctx, "SELECT @@global.read_only").Scan(&ro)
	return ro, err
}

// BinlogPos is n's @@gtid_binlog_pos: its last written transaction.
func BinlogPos(ctx context.Context, n Node) (string, error) {
	var pos string
	err := n.Admin.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&pos)
	return pos, err
}

// WaitApplied waits until n has applied every transaction up to pos.
func WaitApplied(ctx context.Context, n Node, pos string, timeout time.Duration) error {
	if pos == "" {
		return nil
	}
	var r sql.NullInt64
	if err := n.Admin.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&r); err != nil {
		return fmt.Errorf("%s: MASTER_GTID_WAIT: %w", n.Region, err)
	}
	if !r.Valid || r.Int64 != 0 {
		return fmt.Errorf("%s has not applied %s within %s", n.Region, pos, timeout)
	}
	return nil
}

// Promote makes n a standalone writer: replication removed, read_only off.
func Promote(ctx context.Context, n Node) error {
	for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=0"} {
		if _, err := n.Admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("promoting %s (%s): %w", n.Region, q, err)
		}
	}
	return nil
}

// Attach makes n a replica of src through src's link. demote carries n's
// own binlog position into gtid_slave_pos (an old primary turning replica).
func Attach(ctx context.Context, n, src Node, r Repl, demote bool) error {
	q := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
		"MASTER_USE_GTID=slave_pos, MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1",
		src.LinkHost, src.LinkPort, r.User, r.Password)
	if demote {
		q += ", MASTER_DEMOTE_TO_SLAVE=1"
	}
	for _, s := range []string{"STOP SLAVE", q, "START SLAVE"} {
		if _, err := n.Admin.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("attaching %s to %s: %w", n.Region, src.Region, err)
		}
	}
	return nil
}

// Status is n's replica status (SHOW SLAVE STATUS).
type Status struct {
	Configured bool   `json:"configured"`
	IORunning  bool   `json:"ioRunning"`
	SQLRunning bool   `json:"sqlRunning"`
	IOPos      string `json:"ioPos,omitempty"`
	LastError  string `json:"lastError,omitempty"`
	// Applied: the SQL thread has executed everything the IO thread
	// wrote to the relay log.
	Applied bool `json:"applied"`
}

// ReplicaStatus reads SHOW SLAVE STATUS.
func ReplicaStatus(ctx context.Context, n Node) (Status, error) {
	rows, err := n.Admin.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return Status{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Status{}, err
	}
	if !rows.Next() {
		return Status{}, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return Status{}, err
	}
	m := map[string]string{}
	for i, c := range cols {
		m[c] = vals[i].String
	}
	st := Status{Configured: m["Master_Host"] != "", IORunning: m["Slave_IO_Running"] == "Yes",
		SQLRunning: m["Slave_SQL_Running"] == "Yes", IOPos: m["Gtid_IO_Pos"],
		Applied: m["Master_Log_File"] == m["Relay_Master_Log_File"] && m["Read_Master_Log_Pos"] == m["Exec_Master_Log_Pos"]}
	for _, k := range []string{"Last_IO_Error", "Last_SQL_Error"} {
		if m[k] != "" {
			st.LastError = strings.TrimSpace(st.LastError + " " + m[k])
		}
	}
	return st, rows.Err()
}

// DrainRelay applies what n has already received from its lost source:
// RESET SLAVE ALL deletes relay logs, so promoting without this would lose
// transactions that had crossed the link. It waits until the SQL thread
// has executed everything in the relay log, or stops advancing (the last
// transaction may have been cut half-way through the link: it can never
// be applied), or timeout.
func DrainRelay(ctx context.Context, n Node, timeout time.Duration) error {
	st, err := ReplicaStatus(ctx, n)
	if err != nil || !st.Configured {
		return err
	}
	if !st.SQLRunning {
		if _, err := n.Admin.ExecContext(ctx, "START SLAVE SQL_THREAD"); err != nil {
			return fmt.Errorf("draining %s's relay log: %w", n.Region, err)
		}
	}
	var last string
	still := time.Now()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		st, err := ReplicaStatus(ctx, n)
		if err != nil {
			return err
		}
		if st.Applied {
			return nil
		}
		var pos string
		if err := n.Admin.QueryRowContext(ctx, "SELECT @@global.gtid_slave_pos").Scan(&pos); err != nil {
			return err
		}
		if pos != last {
			last, still = pos, time.Now()
		}
		switch {
		case time.Since(still) > time.Second:
			return nil // nothing applied for a second: the rest is an incomplete transaction
		case time.Now().After(deadline):
			return fmt.Errorf("%s has not drained its relay log within %s", n.Region, timeout)
		}
	}
}

// Stall stops n's replication (both threads: nothing more crosses or is
// applied, so lag grows); Resume restarts it.
func Stall(ctx context.Context, n Node) error {
	_, err := n.Admin.ExecContext(ctx, "STOP SLAVE")
	return err
}

// Resume restarts n's replication.
func Resume(ctx context.Context, n Node) error {
	st, err := ReplicaStatus(ctx, n)
	if err != nil {
		return err
	}
	if !st.Configured {
		return fmt.Errorf("%s is not a replica", n.Region)
	}
	_, err = n.Admin.ExecContext(ctx, "START SLAVE")
	return err
}

// Switchover moves the writer from old to target with no data loss: fence
// old, wait until target applied old's last transaction, promote target,
// attach old as its replica. step reports progress.
func Switchover(ctx context.Context, old, target Node, r Repl, step func(string)) error {
	step("fence " + old.Region)
	if err := Fence(ctx, old); err != nil {
		return err
	}
	pos, err := BinlogPos(ctx, old)
	if err != nil {
		return fmt.Errorf("%s: reading gtid_binlog_pos: %w", old.Region, err)
	}
	step("wait until " + target.Region + " applied " + pos)
	if err := WaitApplied(ctx, target, pos, 60*time.Second); err != nil {
		return err
	}
	step("promote " + target.Region)
	if err := Promote(ctx, target); err != nil {
		return err
	}
	step("attach " + old.Region + " as replica of " + target.Region)
	return Attach(ctx, old, target, r, true)
}

// Failover promotes target without waiting for its source (the writer's
// Region is lost): it applies what already crossed the link, then promotes.
// oldAnswers is the old writer when it still answers, to be fenced.
func Failover(ctx context.Context, target Node, old *Node, step func(string)) error {
	if old != nil {
		step("fence " + old.Region)
		if err := fenceHard(ctx, *old); err != nil {
			step("could not fence " + old.Region + ": " + err.Error())
		}
	}
	step("drain " + target.Region + "'s relay log")
	if err := DrainRelay(ctx, target, 10*time.Second); err != nil {
		step("relay log not fully drained: " + err.Error())
	}
	step("promote " + target.Region)
	return Promote(ctx, target)
}

// fenceHard fences n for a failover, where waiting is not an option: if
// the bounded wait runs out (a long statement holds it), every client
// connection is killed and the fence tried once more, so the old writer
// cannot go on taking writes beside the promoted one.
func fenceHard(ctx context.Context, n Node) error {
	fctx, cancel := context.WithTimeout(ctx, FenceLockWait+2*time.Second)
	defer cancel()
	err := Fence(fctx, n)
	if err == nil {
		return nil
	}
	rows, qerr := n.Admin.QueryContext(fctx, `SELECT id FROM information_schema.processlist
WHERE id <> CONNECTION_ID() AND user NOT IN ('system user', 'event_scheduler') AND command NOT IN ('Binlog Dump', 'Daemon')`)
	if qerr != nil {
		return errors.Join(err, qerr)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		_, _ = n.Admin.ExecContext(fctx, fmt.Sprintf("KILL CONNECTION %d", id))
	}
	return Fence(fctx, n)
}

// Unfence makes n writable again (read_only off). Only the writer is ever
// unfenced: a writable replica would let its application user write
// beside the writer.
func Unfence(ctx context.Context, n Node) error {
	if _, err := n.Admin.ExecContext(ctx, "SET GLOBAL read_only=0"); err != nil {
		return fmt.Errorf("unfencing %s (read_only=0): %w", n.Region, err)
	}
	return nil
}
