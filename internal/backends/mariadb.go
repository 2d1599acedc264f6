package backends

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
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// Host is the address every local server listens on and the host part of
// every account: the server sees loopback clients as 127.0.0.1.
const Host = "127.0.0.1"

// Binaries are the MariaDB programs: the server, mariadb-install-db, the
// client and mariadb-dump.
type Binaries struct{ Server, InstallDB, Client, Dump string }

// FindBinaries looks the MariaDB programs up in PATH and the sbin
// directories, or says what to install.
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
		return "", fmt.Errorf("%s not found: MariaDB 10.11 is needed (Debian/Ubuntu: apt-get install mariadb-server mariadb-client)", name)
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

// MariaDB is one local database server. Every server runs with the same
// base flags (serverFlags) plus its own Flags: the lab's replication
// flags, or --read-only for a test's secondary.
type MariaDB struct {
	Name  string // process name: its log and pid file are <run dir>/logs|pids/<Name>
	Dir   string // holds data/, the socket, error.log
	Port  int
	Bin   Binaries
	Flags []string
	Proc  *proc.Proc // set by Start
}

// Socket is the server's unix socket (root's way in).
func (m *MariaDB) Socket() string { return filepath.Join(m.Dir, "mysqld.sock") }

// Addr is the server's TCP address.
func (m *MariaDB) Addr() string { return Host + ":" + strconv.Itoa(m.Port) }

// Install creates the data directory (mariadb-install-db), removing any
// earlier one.
func (m *MariaDB) Install(ctx context.Context) error {
	if len(m.Socket()) > 100 {
		return fmt.Errorf("directory path too long for a unix socket (%s): use a shorter directory", m.Socket())
	}
	if err := os.MkdirAll(m.tmpDir(), 0o700); err != nil {
		return err
	}
	var out []byte
	var err error
	// Once seen failing on a loaded machine without saying why: one more
	// try on a clean data directory before giving up.
	for attempt := 0; attempt < 2; attempt++ {
		_ = os.RemoveAll(filepath.Join(m.Dir, "data"))
		out, err = exec.CommandContext(ctx, m.Bin.InstallDB, "--no-defaults", "--datadir="+filepath.Join(m.Dir, "data"),
			"--auth-root-authentication-method=normal", "--skip-test-db", "--user="+osUser(),
			"--innodb-log-file-size=16M", "--tmpdir="+m.tmpDir()).CombinedOutput()
		if err == nil {
			break
		}
	}
	logPath := filepath.Join(m.Dir, "install.log")
	_ = os.WriteFile(logPath, out, 0o600)
	if err != nil {
		return fmt.Errorf("mariadb-install-db for %s: %v: %s (full output in %s)", m.Name, err, errorLines(out), logPath)
	}
	return nil
}

// serverFlags are every server's flags. 64M of buffer pool holds every
// test's data; 300 connections serve all test packages at once on the
// shared servers (go test runs packages in parallel, each with its pools).
func (m *MariaDB) serverFlags() []string {
	return []string{"--no-defaults", "--datadir=" + filepath.Join(m.Dir, "data"), "--socket=" + m.Socket(),
		"--bind-address=" + Host, "--port=" + strconv.Itoa(m.Port), "--pid-file=" + filepath.Join(m.Dir, "mysqld.pid"),
		"--user=" + osUser(), "--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
		"--max-connections=300", "--log-error=" + filepath.Join(m.Dir, "error.log"), "--tmpdir=" + m.tmpDir()}
}

// tmpDir is the server's own temporary directory: servers installed at
// the same time in a shared /tmp were seen to remove each other's
// temporary tables, failing mariadb-install-db.
func (m *MariaDB) tmpDir() string { return filepath.Join(m.Dir, "tmp") }

// Start starts the installed server, its log and pid file in runDir (see
// package proc: whoever owns runDir can stop it even after this process
// is gone), and waits until root can log in over the socket.
func (m *MariaDB) Start(ctx context.Context, runDir string) error {
	p, err := proc.Start(runDir, m.Name, m.Bin.Server, append(m.serverFlags(), m.Flags...), os.Environ())
	if err != nil {
		return err
	}
	m.Proc = p
	if err := proc.WaitTCP(p, m.Addr(), 30*time.Second); err != nil {
		return fmt.Errorf("%w (see %s)", err, filepath.Join(m.Dir, "error.log"))
	}
	db, err := m.Root()
	if err != nil {
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = db.PingContext(ctx); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MariaDB %s does not accept root on %s: %v", m.Name, m.Socket(), err)
		}
	}
}

// Stop ends the server (SIGTERM, SIGKILL after 20 s), thawing it first.
func (m *MariaDB) Stop() {
	if m.Proc != nil {
		_ = m.Thaw()
		m.Proc.Stop(syscall.SIGTERM, 20*time.Second)
	}
}

// Root opens root over the unix socket.
func (m *MariaDB) Root() (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.Timeout = "root", "unix", m.Socket(), 2*time.Second
	return sql.Open("mysql", c.FormatDSN())
}

// DSN is user's go-sql-driver DSN for this server and database db ("" for
// none): the only way a DSN for a local server is written.
func (m *MariaDB) DSN(user, password, db string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, password, "tcp", m.Addr(), db
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 30*time.Second, 10*time.Second
	c.ParseTime, c.Loc = true, time.UTC
	return c.FormatDSN()
}

// Freeze stops the server process (SIGSTOP): connections stay open and
// nothing answers, as with a hung database host. It returns once the
// kernel reports every thread stopped (signal delivery is asynchronous,
// and slow on a loaded machine).
func (m *MariaDB) Freeze() error {
	pid := m.Proc.Cmd.Process.Pid
	if err := m.Proc.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if stopped(pid) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd %d did not stop", pid)
		}
	}
}

// Thaw resumes a frozen server (SIGCONT).
func (m *MariaDB) Thaw() error { return m.Proc.Cmd.Process.Signal(syscall.SIGCONT) }

// stopped reports whether every thread of pid is in state T (stopped).
func stopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// The state follows the parenthesised command name.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
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
