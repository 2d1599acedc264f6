package runlog

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const lockID = "failover-20261125T040000Z-us-west-2"

// TestHelperHoldsTheRun is run as a child process by the lock test: it
// opens the run (taking its lock), says so, and waits to be killed.
func TestHelperHoldsTheRun(t *testing.T) {
	dir := os.Getenv("DRCTL_JOURNAL_HOLD")
	if dir == "" {
		t.Skip("helper process only")
	}
	if _, err := Open(dir, lockID); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("holding\n")
	time.Sleep(time.Minute)
}

// Two drctl processes could drive one run.
func TestOnlyOneProcessDrivesARun(t *testing.T) {
	dir := t.TempDir()
	r, err := Create(dir, Run{ID: lockID, Kind: "failover", Target: "us-west-2", Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	child := exec.Command(os.Args[0], "-test.run=^TestHelperHoldsTheRun$")
	child.Env = append(os.Environ(), "DRCTL_JOURNAL_HOLD="+dir)
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "holding" {
		t.Fatalf("child: %q", line)
	}
	if _, err := Open(dir, lockID); err == nil || !strings.Contains(err.Error(), "another drctl") {
		t.Fatalf("second driver admitted: %v", err)
	}
	// The holder dies: the lock goes with it.
	child.Process.Kill()
	child.Wait()
	again, err := Open(dir, lockID)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	// Within one process too, a second open of the run is refused.
	if _, err := Open(dir, lockID); err == nil {
		t.Error("second open in the same process admitted")
	}
	again.Close()
}

// A fixed temp-file name left behind by a crash blocked every
// later save.
func TestSaveSurvivesATempFileLeftByACrash(t *testing.T) {
	dir := t.TempDir()
	r, err := Create(dir, Run{ID: lockID, Kind: "failover", Target: "us-west-2", Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Mkdir(filepath.Join(dir, lockID, "journal.json.tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.Values["x"] = "1"
	if err := r.Save(); err != nil {
		t.Fatalf("save: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, lockID, "journal-*.tmp"))
	if len(matches) != 0 {
		t.Errorf("temp files left: %v", matches)
	}
}
