// Package mariadb is what the lab's two database servers add to a local
// MariaDB server (internal/backends starts it): GTID replication flags
// (why each, in docs/lab-replication.md), the replication and heartbeat
// accounts, and the databases created on the first primary.
package mariadb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/payment-dr/payment-dr/internal/backends"
)

// Users of every lab database server.
const (
	AdminUser     = backends.AdminUser // never writes on a demoted node: moves fence and check first
	AppUser       = backends.AppUser   // the payment service, fenced by read_only
	ReplUser      = "drlab_repl"       // the replication stream
	HeartbeatUser = "drlab_heartbeat"  // heartbeat writer: no READ ONLY ADMIN, so it can never write on a fenced node
	HeartbeatDB   = "drlab"            // holds the heartbeat table
	Host          = backends.Host
)

// NewServer is region's server (not yet installed): data in dir, the
// lab's flags on top of the base ones. It starts read-only, as every
// restarted server must: only promotion turns read_only off.
func NewServer(region, dir string, port, serverID int, bin backends.Binaries) *backends.MariaDB {
	return &backends.MariaDB{Name: "mariadb-" + region, Dir: dir, Port: port, Bin: bin, Flags: []string{
		"--server-id=" + strconv.Itoa(serverID), "--gtid-domain-id=0", "--log-bin=" + filepath.Join(dir, "binlog"),
		"--relay-log=" + filepath.Join(dir, "relay"), "--binlog-format=ROW", "--gtid-strict-mode=1",
		"--log-slave-updates", "--skip-slave-start", "--slave-net-timeout=5", "--read-only", "--performance-schema=OFF",
		// The lab kills processes, not machines: a commit written to the
		// OS page cache survives SIGKILL, so no fsync per commit is
		// needed; with one (sync_binlog=1, flush at commit) the replica's
		// single SQL thread fell seconds behind at 100 payments/s on 2
		// shared cores.
		"--sync-binlog=0", "--innodb-flush-log-at-trx-commit=2"}}
}

// CreateUsers creates the lab's users on one server (outside the binlog,
// see backends.CreateUsers), with the passwords in pw.
func CreateUsers(ctx context.Context, root *sql.DB, pw map[string]string, dbName string) error {
	return backends.CreateUsers(ctx, root, []backends.User{
		{Name: AdminUser, Password: pw[AdminUser], Grants: []string{"ALL PRIVILEGES ON *.*"}, GrantOption: true},
		{Name: AppUser, Password: pw[AppUser], Grants: []string{"SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, DROP ON `" + dbName + "`.*"}},
		{Name: ReplUser, Password: pw[ReplUser], Grants: []string{"REPLICATION SLAVE ON *.*"}},
		{Name: HeartbeatUser, Password: pw[HeartbeatUser], Grants: []string{"SELECT, INSERT, UPDATE ON `" + HeartbeatDB + "`.*"}},
	})
}

// CreateDatabases creates the payment and heartbeat databases on the
// first primary, in its binlog: replication carries them to the replica.
func CreateDatabases(ctx context.Context, root *sql.DB, dbName string) error {
	for _, q := range []string{
		"CREATE DATABASE `" + dbName + "`",
		"CREATE DATABASE `" + HeartbeatDB + "`",
		"CREATE TABLE `" + HeartbeatDB + "`.heartbeat (id TINYINT NOT NULL PRIMARY KEY, region VARCHAR(32) NOT NULL, ts DATETIME(6) NOT NULL) ENGINE=InnoDB",
	} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the lab's databases: %w", err)
		}
	}
	return nil
}
