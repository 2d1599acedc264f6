// Package e2e drills the real lab end to end: drlab, drctl and the
// payment service binaries, two MariaDB servers in replication across a
// Toxiproxy link, dynalite, real load and an independent verify.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
)

// labTools finds MariaDB and dynalite as drlab does and returns
// dynalite's path; without them the test is Missing them.
func labTools(t *testing.T) string {
	t.Helper()
	if _, err := backends.FindBinaries(); err != nil {
		backends.Missing(t, err.Error())
	}
	dyn, err := backends.FindDynalite("")
	if err != nil {
		backends.Missing(t, err.Error())
	}
	return dyn
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// TestMain removes the binaries built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// build compiles drlab, drctl and the payment service once per run.
func build(t *testing.T, root string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "drlab-e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/drlab", "./cmd/drctl", "./cmd/payments")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// lab is a running lab for one test.
type lab struct {
	t        *testing.T
	root     string
	bin, dir string
}

func startLab(t *testing.T) *lab {
	t.Helper()
	root := repoRoot(t)
	dyn := labTools(t)
	l := &lab{t: t, root: root, bin: build(t, root), dir: filepath.Join(t.TempDir(), "lab")}
	out, err := l.drlab("up", "--dir", l.dir, "--config", filepath.Join(root, "config", "dev.json"), "--dynalite", dyn,
		"--check-interval", "500ms", "--failure-threshold", "2", "--ttl", "500ms", "--templates", filepath.Join(root, "cdk.out"))
	if err != nil {
		t.Fatalf("drlab up: %v\n%s\n%s", err, out, tailLogs(l.dir))
	}
	t.Cleanup(func() {
		started := pidFiles(t, l.dir)
		if len(started) < 6 { // daemon, dynalite, 2 x MariaDB, 2 x payments
			t.Errorf("pid files before down: %v", started)
		}
		if out, err := l.drlab("down", "--dir", l.dir); err != nil {
			t.Errorf("drlab down: %v %s", err, out)
		}
		if left := processesUnder(t, l.dir); len(left) > 0 {
			t.Errorf("still running after drlab down: %v", left)
		}
		for pid, prog := range started {
			if running(pid, prog) {
				t.Errorf("%s (pid %s) still running after drlab down", prog, pid)
			}
		}
		if t.Failed() {
			t.Logf("lab logs:\n%s", tailLogs(l.dir))
			keep(t, "logs", filepath.Join(l.dir, "logs"))
			keep(t, "etcd", filepath.Join(l.dir, "mrsc"), "*.log")
		}
	})
	return l
}

func tailLogs(dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 1500 {
			data = data[len(data)-1500:]
		}
		b.WriteString("== " + f + "\n" + string(data) + "\n")
	}
	return b.String()
}

// commandTimeout bounds one drlab or drctl command: none takes a minute
// in these tests, and one that hangs (drctl following an execution that
// never ends) fails its test instead of the package's deadline.
const commandTimeout = 3 * time.Minute

func (l *lab) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(l.bin, name), args...)
	cmd.Dir = l.root
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: still running after %s: %w", name, strings.Join(args, " "), commandTimeout, err)
	}
	return string(out), err
}

func (l *lab) drlab(args ...string) (string, error) { return l.run("drlab", args...) }

// drctl runs drctl against the lab with the given command and flags.
func (l *lab) drctl(args ...string) (string, error) {
	return l.run("drctl", append(args, "--lab", l.dir, "--config", filepath.Join(l.root, "config", "dev.json"))...)
}

func (l *lab) must(out string, err error) string {
	l.t.Helper()
	if err != nil {
		l.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// load runs drlab load in the background; wait returns once it ended.
func (l *lab) load(rate int, d time.Duration, out string, extra ...string) (wait func()) {
	args := append([]string{"load", "--dir", l.dir, "--rate", strconv.Itoa(rate), "--duration", d.String(), "--out", out}, extra...)
	cmd := exec.Command(filepath.Join(l.bin, "drlab"), args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	return func() {
		if err := cmd.Wait(); err != nil {
			l.t.Fatalf("drlab load: %v\n%s", err, buf.String())
		}
		l.t.Log(strings.TrimSpace(buf.String()))
	}
}

type verifyOut struct {
	Writer string `json:"writer"`
	OK     bool   `json:"ok"`
	verify.Report
}

func (l *lab) verify(acks string, lost string) verifyOut {
	l.t.Helper()
	args := []string{"verify", "--dir", l.dir, "--acks", acks, "--json"}
	if lost != "" {
		args = append(args, "--lost", lost)
	}
	out, _ := l.drlab(args...) // a violation exits 1; the JSON says which
	var v verifyOut
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		l.t.Fatalf("verify output: %v\n%s", err, out)
	}
	return v
}

func (l *lab) status() labapi.Status {
	l.t.Helper()
	out := l.must(l.drlab("status", "--dir", l.dir, "--json"))
	var s labapi.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		l.t.Fatalf("status: %v\n%s", err, out)
	}
	return s
}

// moves reads the daemon's log of accepted move requests.
func (l *lab) moves() []labapi.Move {
	l.t.Helper()
	f, err := os.Open(filepath.Join(l.dir, "moves.jsonl"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	var out []labapi.Move
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m labapi.Move
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			l.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// pidFiles reads the lab's pid files: pid -> program.
func pidFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	files = append(files, filepath.Join(dir, "daemon.pid"))
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("pid file %s: %v", f, err)
			continue
		}
		if fields := strings.Fields(string(b)); len(fields) == 2 {
			out[fields[0]] = fields[1]
		}
	}
	return out
}

// running: pid exists, is not a zombie, and still runs prog.
func running(pid, prog string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	return bytes.Contains(cmdline, []byte(prog))
}

// adminDB is a pool of the admin user on region's database in the lab.
func (l *lab) adminDB(region string) *sql.DB {
	l.t.Helper()
	lab, err := labdir.Dir(l.dir).ReadLab()
	if err != nil {
		l.t.Fatal(err)
	}
	db, err := sql.Open("mysql", lab.Regions[region].MySQLAdminDSN)
	if err != nil {
		l.t.Fatal(err)
	}
	return db
}

// keep copies dir (the lab's logs, a run's acks), or its files matching
// pattern, of a failed test to $PAYMENTS_E2E_KEEP_LOGS/<test>/<name>, when
// set, before the test's directories go.
func keep(t *testing.T, name, dir string, pattern ...string) {
	root := os.Getenv("PAYMENTS_E2E_KEEP_LOGS")
	if root == "" {
		return
	}
	dst := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"), name)
	var err error
	if len(pattern) == 0 {
		err = os.CopyFS(dst, os.DirFS(dir))
	} else {
		err = copyMatching(dst, dir, pattern[0])
	}
	if err != nil {
		t.Logf("keeping %s: %v", dir, err)
		return
	}
	t.Logf("%s kept in %s", name, dst)
}

func copyMatching(dst, dir, pattern string) error {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
