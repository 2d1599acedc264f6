// Package mariadb starts the lab's MariaDB servers the way
// scripts/backends.sh does, with the replication flags measured in
// shared/notes/lab-replication-facts.md, and creates the lab's users.
package mariadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/lab/proc"
)

// Users of every lab database server.
const (
	AdminUser     = "payments_admin"  // ALL PRIVILEGES (includes READ ONLY ADMIN): never writes on a demoted node
	AppUser       = "payments_app"    // the payment service: no READ ONLY ADMIN, so read_only fences it
	ReplUser      = "drlab_repl"      // the replication stream
	HeartbeatUser = "drlab_heartbeat" // heartbeat writer: no READ ONLY ADMIN, so it can never write on a fenced node
	HeartbeatDB   = "drlab"           // holds the heartbeat table
	Host          = "127.0.0.1"
)

// Binaries finds mariadbd, mariadb-install-db, mariadb and mariadb-dump,
// or says what to install.
type Binaries struct{ Server, InstallDB, Client, Dump string }

// FindBinaries looks the MariaDB programs up in PATH and /usr/sbin.
func FindBinaries() (Binaries, error) {
	find := func(name string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin"} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found: the lab needs MariaDB 10.11 (Debian/Ubuntu: apt-get install mariadb-server mariadb-client)", name)
	}
	var b Binaries
	var errs []error
	for _, f := range []struct {
		p    *string
		name string
	}{{&b.Server, "mariadbd"}, {&b.InstallDB, "mariadb-install-db"}, {&b.Client, "mariadb"}, {&b.Dump, "mariadb-dump"}} {
		p, err := find(f.name)
		*f.p = p
		errs = append(errs, err)
	}
	return b, errors.Join(errs...)
}

// Server is one Region's database server.
type Server struct {
	Region   string
	Dir      string // DIR/<region>
	Port     int
	ServerID int
	Bin      Binaries
	Proc     *proc.Proc
}

// Socket is the server's unix socket (root's way in).
func (s *Server) Socket() string { return filepath.Join(s.Dir, "mysqld.sock") }

func (s *Server) procName() string { return "mariadb-" + s.Region }

// Install creates the data directory (mariadb-install-db).
func (s *Server) Install(ctx context.Context) error {
	if len(s.Socket()) > 100 {
		return fmt.Errorf("lab directory path too long for a unix socket (%s): use a shorter --dir", s.Socket())
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	var out []byte
	var err error
	// Once seen failing on a loaded machine without saying why: one more
	// try on a clean data directory before giving up.
	for attempt := 0; attempt < 2; attempt++ {
		_ = os.RemoveAll(filepath.Join(s.Dir, "data"))
		out, err = exec.CommandContext(ctx, s.Bin.InstallDB, "--no-defaults", "--datadir="+filepath.Join(s.Dir, "data"),
			"--auth-root-authentication-method=normal", "--skip-test-db", "--user="+osUser(),
			"--innodb-log-file-size=16M").CombinedOutput()
		if err == nil {
			break
		}
	}
	logPath := filepath.Join(s.Dir, "install.log")
	_ = os.WriteFile(logPath, out, 0o600)
	if err != nil {
		return fmt.Errorf("mariadb-install-db for %s: %v: %s (full output in %s)", s.Region, err, errorLines(out), logPath)
	}
	return nil
}

// Start starts mariadbd read-only (a restarted server must not come up
// writable: only promotion turns read_only off) and waits until root can
// log in.
func (s *Server) Start(ctx context.Context, labDir string) error {
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(s.Dir, "data"), "--socket=" + s.Socket(),
		"--bind-address=127.0.0.1", "--port=" + strconv.Itoa(s.Port), "--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"),
		"--user=" + osUser(), "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
		"--max-connections=300", "--log-error=" + filepath.Join(s.Dir, "error.log"),
		"--server-id=" + strconv.Itoa(s.ServerID), "--gtid-domain-id=0", "--log-bin=" + filepath.Join(s.Dir, "binlog"),
		"--relay-log=" + filepath.Join(s.Dir, "relay"), "--binlog-format=ROW", "--gtid-strict-mode=1",
		"--log-slave-updates", "--skip-slave-start", "--slave-net-timeout=5", "--read-only", "--performance-schema=OFF",
		// The lab kills processes, not machines: a commit written to the
		// OS page cache survives SIGKILL, so no fsync per commit is
		// needed; with one (sync_binlog=1, flush at commit) the replica's
		// single SQL thread fell seconds behind at 100 payments/s on 2
		// shared cores.
		"--sync-binlog=0", "--innodb-flush-log-at-trx-commit=2"}
	p, err := proc.Start(labDir, s.procName(), s.Bin.Server, args, os.Environ())
	if err != nil {
		return err
	}
	s.Proc = p
	if err := proc.WaitTCP(p, fmt.Sprintf("%s:%d", Host, s.Port), 30*time.Second); err != nil {
		return fmt.Errorf("%w (see %s)", err, filepath.Join(s.Dir, "error.log"))
	}
	db, err := s.Root()
	if err != nil {
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = db.PingContext(ctx); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MariaDB %s does not accept root on %s: %v", s.Region, s.Socket(), err)
		}
	}
}

// Root opens root over the unix socket.
func (s *Server) Root() (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.Timeout = "root", "unix", s.Socket(), 2*time.Second
	return sql.Open("mysql", c.FormatDSN())
}

// DSN is user's go-sql-driver DSN for this server and database db.
func (s *Server) DSN(user, password, db string) string { return DSN(s.Port, user, password, db) }

// DSN is user's go-sql-driver DSN for a loopback server on port.
func DSN(port int, user, password, db string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, password, "tcp", fmt.Sprintf("%s:%d", Host, port), db
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 30*time.Second, 10*time.Second
	c.ParseTime, c.Loc = true, time.UTC
	return c.FormatDSN()
}

// CreateUsers creates the lab's users on one server, outside the binlog:
// every server gets the same users this way, and replication never
// replays a CREATE USER onto a server that already has the user.
func CreateUsers(ctx context.Context, root *sql.DB, pw map[string]string, dbName string) error {
	conn, err := root.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stmts := []string{
		"SET SESSION sql_log_bin=0",
		fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", AdminUser, Host, pw[AdminUser]),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s' WITH GRANT OPTION", AdminUser, Host),
		fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", AppUser, Host, pw[AppUser]),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, DROP ON `%s`.* TO '%s'@'%s'", dbName, AppUser, Host),
		fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", ReplUser, Host, pw[ReplUser]),
		fmt.Sprintf("GRANT REPLICATION SLAVE ON *.* TO '%s'@'%s'", ReplUser, Host),
		fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", HeartbeatUser, Host, pw[HeartbeatUser]),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE ON `%s`.* TO '%s'@'%s'", HeartbeatDB, HeartbeatUser, Host),
	}
	// The connection goes back to root's pool: binlogging is restored, or
	// the next statement on it (a CREATE DATABASE) would skip the binlog
	// and never reach the replica.
	for _, q := range append(stmts, "SET SESSION sql_log_bin=1") {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the lab's users: %w", err)
		}
	}
	return nil
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

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// errorLines picks the lines of a tool's output that say what failed.
func errorLines(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "rror:") || strings.Contains(l, "FATAL") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	if len(out) == 0 {
		return "no error line in its output"
	}
	if len(out) > 5 {
		out = out[:5]
	}
	return strings.Join(out, "; ")
}
