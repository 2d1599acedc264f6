package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
)

// One lab drives the three scenarios in turn (a lab start costs ~5 s):
// a planned switchover under load, a drctl killed mid-switchover and run
// again, and an unplanned failover with replication stalled.
func TestLabDrills(t *testing.T) {
	l := startLab(t)
	if out, err := l.drlab("up", "--dir", l.dir); err == nil || !strings.Contains(out, "already running") {
		t.Fatalf("a second up on a running lab: %v %s", err, out)
	}
	t.Run("a cut link makes lag grow; restored, the replica catches up", func(t *testing.T) { l.t = t; linkCut(l) })
	t.Run("planned switchover under load loses nothing", func(t *testing.T) { l.t = t; plannedSwitchover(l) })
	t.Run("drctl killed mid-switchover completes on rerun", func(t *testing.T) { l.t = t; killedSwitchover(l) })
	t.Run("unplanned failover: the journal's replay is, key for key, the acknowledged payments the new writer lacked", func(t *testing.T) { l.t = t; unplannedFailover(l) })
	t.Run("a held lock cancels the switchover; the resumed run completes", func(t *testing.T) { l.t = t; heldLock(l) })
	t.Run("a held lock cannot keep the old writer writable in a failover", func(t *testing.T) { l.t = t; heldLockFailover(l) })
	t.Run("a switchover into the Region that failover fenced completes", func(t *testing.T) { l.t = t; switchoverIntoFencedRegion(l) })
	t.Run("a writable old primary acknowledges nothing, and rejoin makes it a standby", func(t *testing.T) { l.t = t; rejoinWritableOldPrimary(l) })
	t.Run("partition: the isolated Region acknowledges nothing; the replay completes what the new writer lacked", func(t *testing.T) { l.t = t; partitionReplay(l) })
	t.Run("witness down: the writer claims through the other Region, and alone acknowledges nothing", func(t *testing.T) { l.t = t; witnessDown(l) })
	t.Run("the plan make synth wrote fails over with no drctl command", func(t *testing.T) { l.t = t; automaticFailover(l) })
}

// heldLockFailover: the old writer answers but a long write holds off
// read_only; an unplanned failover must still fence it (the lab kills
// its connections) rather than leave two writable Regions.
func heldLockFailover(l *lab) {
	t := l.t
	db := l.adminDB("us-west-2")
	defer db.Close()
	held := make(chan error, 1)
	go func() {
		_, err := db.Exec("UPDATE drlab.heartbeat SET ts = NOW(6) WHERE SLEEP(60) = 0")
		held <- err
	}()
	time.Sleep(500 * time.Millisecond)
	l.must(l.drctl("failover", "--to", "us-east-1", "--allow-data-loss", "--yes", "--report-dir", t.TempDir()))
	select {
	case err := <-held:
		if err == nil {
			t.Fatal("the long write on the old writer completed: it was not killed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the long write on the old writer is still running")
	}
	s := l.status()
	for _, m := range s.Cluster.Members {
		if m.Region == "us-west-2" && (!m.ReadOnly || m.Writer) {
			t.Fatalf("old writer after the failover: %+v", m)
		}
	}
	if s.Cluster.Writer != "us-east-1" {
		t.Fatalf("writer %s", s.Cluster.Writer)
	}
}

// heldLock: a long write on the writer holds read_only=1 past its bounded
// lock wait, so the lab cancels the switchover (like RDS): the old writer
// is unfenced and keeps taking payments, drctl stops and says so, and the
// resumed run moves the writer once the write has finished.
func heldLock(l *lab) {
	t := l.t
	st := l.status()
	if st.Cluster.Writer != "us-east-1" {
		t.Fatalf("writer %s, want us-east-1", st.Cluster.Writer)
	}
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	wait := l.load(50, 14*time.Second, acks)
	db := l.adminDB("us-east-1")
	defer db.Close()
	held := make(chan error, 1)
	go func() {
		_, err := db.Exec("UPDATE drlab.heartbeat SET ts = NOW(6) WHERE SLEEP(8) = 0")
		held <- err
	}()
	time.Sleep(500 * time.Millisecond)
	reports := t.TempDir()
	out, err := l.drctl("switchover", "--to", "us-west-2", "--yes", "--report-dir", reports)
	if err == nil || !strings.Contains(out, "cancelled") {
		t.Fatalf("switchover with the writer's lock held: %v\n%s", err, out)
	}
	if s := l.status(); s.Cluster.Writer != "us-east-1" || s.LastMove == nil || !strings.Contains(s.LastMove.Error, "1205") {
		t.Fatalf("after the cancelled move: writer %s, move %+v", s.Cluster.Writer, s.LastMove)
	}
	if err := <-held; err != nil {
		t.Fatalf("the long write: %v", err)
	}
	l.must(l.drctl("switchover", "--to", "us-west-2", "--yes", "--report-dir", reports))
	wait()
	if v := l.verify(acks, ""); !v.OK || v.Writer != "us-west-2" {
		t.Fatalf("verify: %+v", v)
	}
}

func plannedSwitchover(l *lab) {
	t := l.t
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	wait := l.load(100, 8*time.Second, acks)
	time.Sleep(2 * time.Second)
	reports := t.TempDir()
	l.must(l.drctl("drill", "--to", "us-west-2", "--yes", "--interval", "200ms", "--report-dir", reports))
	wait()
	v := l.verify(acks, "")
	if !v.OK || v.Acked < 500 || v.Present != v.Acked || v.Writer != "us-west-2" {
		t.Fatalf("verify after the switchover: %+v", v)
	}
	rep := readReport(t, reports)
	if rep.Drill.RPONs != 0 || rep.Drill.Unrecovered {
		t.Fatalf("drill report: RPO %d ns, unrecovered %v", rep.Drill.RPONs, rep.Drill.Unrecovered)
	}
	t.Logf("acked %d, RTO %s (detection floor 1.5s)", v.Acked, time.Duration(rep.Drill.RTONs))
}

type report struct {
	Drill struct {
		RTONs       int64 `json:"rtoNs"`
		RPONs       int64 `json:"rpoNs"`
		Unrecovered bool  `json:"unrecovered"`
	} `json:"drill"`
}

func readReport(t *testing.T, dir string) report {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "report.json"))
	if len(files) != 1 {
		t.Fatalf("want one report in %s, got %v", dir, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

type journal struct {
	ID        string `json:"id"`
	Completed bool   `json:"completed"`
	Steps     []struct {
		Name     string    `json:"name"`
		Started  time.Time `json:"started"`
		Ended    time.Time `json:"ended"`
		Attempts int       `json:"attempts"`
	} `json:"steps"`
}

func readJournal(dir string) (journal, bool) {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "journal.json"))
	if len(files) != 1 {
		return journal{}, false
	}
	b, err := os.ReadFile(files[0])
	var j journal
	return j, err == nil && json.Unmarshal(b, &j) == nil
}

// killedSwitchover SIGKILLs drctl once the writer move was requested and
// runs the same command again: it resumes, does not request the move
// again, and leaves the writer where it was asked to be.
func killedSwitchover(l *lab) {
	t := l.t
	reports := t.TempDir()
	before := len(l.moves())
	args := []string{"switchover", "--to", "us-east-1", "--yes", "--report-dir", reports, "--lab", l.dir,
		"--config", filepath.Join(l.root, "config", "dev.json")}
	cmd := exec.Command(filepath.Join(l.bin, "drctl"), args...)
	cmd.Dir = l.root
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !killed; time.Sleep(10 * time.Millisecond) {
		j, ok := readJournal(reports)
		for _, s := range j.Steps {
			if ok && s.Name == "switch-writer" && !s.Ended.IsZero() {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
	}
	err := cmd.Wait()
	if !killed || err == nil {
		t.Fatalf("drctl was not killed after the writer move was requested (err %v)", err)
	}
	if j, _ := readJournal(reports); j.Completed {
		t.Fatal("the run completed before it was killed")
	}
	out := l.must(l.drctl("switchover", "--to", "us-east-1", "--yes", "--report-dir", reports))
	if !strings.Contains(out, "resum") {
		t.Errorf("the rerun did not resume the killed run:\n%s", out)
	}
	j, _ := readJournal(reports)
	if !j.Completed {
		t.Fatalf("resumed run not completed: %+v", j)
	}
	for _, s := range j.Steps {
		if s.Name == "switch-writer" && s.Attempts != 1 {
			t.Errorf("switch-writer ran %d times", s.Attempts)
		}
	}
	moves := l.moves()[before:]
	if len(moves) != 1 || moves[0].To != "us-east-1" {
		t.Fatalf("move requests after the kill: %+v, want exactly one to us-east-1", moves)
	}
	if s := l.status(); s.Cluster.Writer != "us-east-1" || s.Answer != "us-east-1" {
		t.Fatalf("writer %s, failover answer %s; want us-east-1", s.Cluster.Writer, s.Answer)
	}
}

// unplannedFailover stalls replication, loses the writer's Region and
// fails over with data loss: the payments drctl names lost are exactly
// the acknowledged payments verify finds missing.
func unplannedFailover(l *lab) {
	t := l.t
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	wait := l.load(100, 10*time.Second, acks)
	// Beside the retrying clients, clients that send each key once: only
	// their answers can show a "not applied" that was not true.
	oneShot := filepath.Join(t.TempDir(), "one-shot.jsonl")
	waitOneShot := l.load(20, 10*time.Second, oneShot, "--no-retry")
	time.Sleep(2 * time.Second)
	l.must(l.drlab("fault", "--dir", l.dir, "replication-stall"))
	time.Sleep(2 * time.Second)
	l.must(l.drlab("fault", "--dir", l.dir, "region-down", "us-east-1"))
	had := l.keysIn("us-west-2")
	reports := t.TempDir()
	l.must(l.drctl("failover", "--to", "us-west-2", "--allow-data-loss", "--yes", "--report-dir", reports))
	replayed := l.drctlReplayed(reports)
	// Before the old Region returns: nothing acknowledged is missing.
	if v := l.verify(acks, ""); !v.OK {
		t.Fatalf("before us-east-1 returns: %+v", v)
	}
	wait()
	waitOneShot()
	v := l.verify(oneShot, "")
	if !v.OK || v.ClaimsChecked != v.Acked || v.Acked == 0 {
		t.Fatalf("one-shot clients before us-east-1 returns: %+v", v)
	}
	t.Logf("one-shot clients: %d acknowledged (claims committed), %d refused (none present), %d phantoms", v.Acked, v.Refused, len(v.Phantoms))
	lacked := checkReplay(t, "us-east-1", had, l.keysIn("us-west-2"), replayed, l.acks(acks))
	if v := l.verify(acks, ""); !v.OK {
		t.Fatalf("after the failover with replication stalled: %+v", v)
	}
	l.must(l.drlab("fault", "--dir", l.dir, "region-up", "us-east-1"))
	// reconcile still reads the old primary's kept data: no acknowledged
	// payment is only there any more.
	lostFile := filepath.Join(t.TempDir(), "lost.json")
	acked := ackedKeys(t, acks)
	for _, k := range drctlLost(l, lostFile) {
		if acked[k] {
			t.Errorf("drctl reconcile names acknowledged payment %s lost although the journal replayed it", k)
		}
	}
	if v := l.verify(acks, lostFile); !v.OK {
		t.Fatalf("verify with drctl's lost list: %+v", v)
	}
	if v := l.verify(oneShot, lostFile); !v.OK {
		t.Fatalf("one-shot clients once us-east-1 is back: %+v", v)
	}
	t.Logf("the replay completed the %d acknowledged payments the new writer lacked (%d replayed in all)", len(lacked), len(replayed))
	// Failback to the resynchronised old primary: nothing more is lost.
	l.must(l.drctl("failback", "--yes", "--report-dir", t.TempDir()))
	if v := l.verify(acks, lostFile); !v.OK || v.Writer != "us-east-1" {
		t.Fatalf("verify after failback: %+v", v)
	}
}

// drctlLost runs drctl reconcile (no --apply) and returns the keys it
// names lost; the report is written to file for verify --lost.
func drctlLost(l *lab, file string) []string {
	l.t.Helper()
	cmd := exec.Command(filepath.Join(l.bin, "drctl"), "reconcile", "--from", "us-east-1", "--json", "--lab", l.dir,
		"--config", filepath.Join(l.root, "config", "dev.json"))
	cmd.Dir = l.root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("drctl reconcile: %v\n%s%s", err, b, stderr.String())
	}
	out := string(b)
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		l.t.Fatal(err)
	}
	var rep struct {
		Items []struct {
			Key     string `json:"idempotencyKey"`
			Outcome string `json:"outcome"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		l.t.Fatalf("drctl reconcile --json: %v\n%s", err, out)
	}
	var keys []string
	for _, it := range rep.Items {
		if it.Outcome == "missing" {
			keys = append(keys, it.Key)
		}
	}
	return keys
}

func ackedKeys(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := acks.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, a := range list {
		out[a.Key] = true
	}
	return out
}

// A start that fails half-way (here the payment service exits at once)
// says why and leaves no process of the lab running.
func TestFailedUpLeavesNothingRunning(t *testing.T) {
	root := repoRoot(t)
	dyn := labTools(t)
	l := &lab{t: t, root: root, bin: build(t, root), dir: filepath.Join(t.TempDir(), "lab")}
	out, err := l.drlab("up", "--dir", l.dir, "--dynalite", dyn, "--payments-bin", "/bin/false")
	if err == nil || !strings.Contains(out, "payments-us-east-1 exited before listening") {
		t.Fatalf("up with a service that exits: %v\n%s", err, out)
	}
	if left := processesUnder(t, l.dir); len(left) > 0 {
		t.Fatalf("still running after the failed up: %v", left)
	}
	// The directory can be used again at once.
	if out, err := l.drlab("up", "--dir", l.dir, "--dynalite", dyn, "--link-latency", "bad"); err == nil || !strings.Contains(out, "link-latency") {
		t.Fatalf("bad flag: %v %s", err, out)
	}
}

// processesUnder lists processes whose command line names dir.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat")); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue // a zombie is not running
			}
		}
		out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}

// replicaLag is the heartbeat lag of the Region that is not the writer.
func (l *lab) replicaLag() time.Duration {
	s := l.status()
	for _, m := range s.Cluster.Members {
		if !m.Writer {
			return time.Duration(m.LagMs) * time.Millisecond
		}
	}
	l.t.Fatal("no replica")
	return 0
}

func linkCut(l *lab) {
	t := l.t
	l.must(l.drlab("fault", "--dir", l.dir, "link-latency", "5ms"))
	l.must(l.drlab("fault", "--dir", l.dir, "link-cut"))
	time.Sleep(2 * time.Second)
	if lag := l.replicaLag(); lag < 1500*time.Millisecond {
		t.Fatalf("lag %s with the link cut for 2 s", lag)
	}
	l.must(l.drlab("fault", "--dir", l.dir, "link-restore"))
	l.must(l.drlab("fault", "--dir", l.dir, "link-latency", "35ms"))
	for deadline := time.Now().Add(20 * time.Second); l.replicaLag() > time.Second; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up after link-restore: lag %s", l.replicaLag())
		}
	}
}
