package paymentstest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Server is a private MariaDB server a test starts for itself, so it may
// freeze it (SIGSTOP) or start it with options the shared servers lack
// (innodb_read_only): never do that to the shared backends.
type Server struct {
	Addr     string // 127.0.0.1:port
	AdminDSN string // payments_admin: everything
	AppDSN   string // payments_app: no privileges until a database grants them
	cmd      *exec.Cmd
	dir      string
}

// StartMariaDB starts a private server with extraFlags (e.g.
// "--innodb-read-only"), with the same two users as scripts/backends.sh,
// and stops it when the test ends. Without MariaDB installed it skips the
// test (fails in CI).
func StartMariaDB(t testing.TB, extraFlags ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("mariadbd")
	if err != nil {
		bin = "/usr/sbin/mariadbd"
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "mariadbd is not installed: the test needs a private MariaDB server"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir() // removed with the test, data and all
	u, _ := user.Current()
	if out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--user="+u.Username,
		"--innodb-log-file-size=16M").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	sock := filepath.Join(dir, "mysqld.sock")
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--socket=" + sock,
		"--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--user=" + u.Username, "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
		"--max-connections=200", "--log-error=" + filepath.Join(dir, "error.log")}, extraFlags...)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: exec.Command(bin, args...), dir: dir}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	root, err := sql.Open("mysql", "root@unix("+sock+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for deadline := time.Now().Add(30 * time.Second); root.Ping() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("private MariaDB did not start:\n%s", log)
		}
	}
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'payments_admin'@'127.0.0.1' IDENTIFIED BY 'payments-local-admin'",
		"GRANT ALL PRIVILEGES ON *.* TO 'payments_admin'@'127.0.0.1' WITH GRANT OPTION",
		"CREATE USER IF NOT EXISTS 'payments_app'@'127.0.0.1' IDENTIFIED BY 'payments-local-test'",
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.AdminDSN = "payments_admin:payments-local-admin@tcp(" + s.Addr + ")/"
	s.AppDSN = "payments_app:payments-local-test@tcp(" + s.Addr + ")/"
	return s
}

// Freeze stops the server process (SIGSTOP): connections stay open and
// nothing answers, as with a hung database host. It returns once the
// kernel reports every thread stopped (signal delivery is asynchronous,
// and slow on a loaded machine).
func (s *Server) Freeze() error {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if stopped(s.cmd.Process.Pid) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd %d did not stop", s.cmd.Process.Pid)
		}
	}
}

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

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *Server) stop() {
	_ = s.Thaw()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Root returns a pool on the server's admin user, for the test's setup.
func (s *Server) Root(t testing.TB) *sql.DB {
	cfg, err := mysql.ParseDSN(s.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
