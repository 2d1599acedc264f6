package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/proc"
)

// db-freeze stops a Region's server process and db-thaw resumes it; the
// status asks a frozen database nothing (this one has no connection at
// all); region-down ends a frozen server and its mark; shutdown's thaw
// resumes what is frozen. A sleep stands in for mariadbd: the signals are
// the same.
func TestFreezeAndThawTheDatabaseServer(t *testing.T) {
	d := journalDaemon(t)
	d.topo.Frozen = map[string]bool{}
	d.parts = map[string]*region{}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	for _, r := range []string{east, west} {
		p, err := proc.Start(t.TempDir(), "mariadb-"+r, sleep, []string{"300"}, os.Environ())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(syscall.SIGKILL, time.Second) })
		d.parts[r] = &region{name: r, server: &backends.MariaDB{Name: "mariadb-" + r, Proc: p}, bus: &backends.EventBus{Region: r}}
	}
	state := func(r string) byte { return procState(t, d.parts[r].server.Proc.Cmd.Process.Pid) }
	if err := d.freeze(east); err != nil {
		t.Fatal(err)
	}
	if s := state(east); s != 'T' || !d.topology().Frozen[east] {
		t.Fatalf("after db-freeze: state %c, topology %+v", s, d.topology())
	}
	if err := d.freeze(east); !isConflict(err) {
		t.Errorf("freezing a frozen database: %v, want a conflict", err)
	}
	if err := d.thaw(west); !isConflict(err) {
		t.Errorf("thawing a database not frozen: %v, want a conflict", err)
	}
	start := time.Now()
	if m := d.member(context.Background(), east, d.topology()); !m.Frozen || m.Reachable || time.Since(start) > time.Second {
		t.Errorf("member of a frozen database: %+v after %s", m, time.Since(start))
	}
	if err := d.thaw(east); err != nil {
		t.Fatal(err)
	}
	if s := state(east); s == 'T' || d.topology().Frozen[east] {
		t.Fatalf("after db-thaw: state %c, topology %+v", s, d.topology())
	}
	if err := d.freeze(west); err != nil {
		t.Fatal(err)
	}
	if err := d.regionDown(west); err != nil {
		t.Fatal(err)
	}
	// A member cut off slows the journal's close by seconds.
	t.Cleanup(func() { _ = d.journal.Rejoin(west) })
	select {
	case <-time.After(5 * time.Second):
		t.Fatal("region-down left the frozen server running")
	case <-waitProc(d.parts[west].server.Proc):
	}
	if d.topology().Frozen[west] {
		t.Error("region-down left the frozen mark")
	}
	if err := d.freeze(west); !isConflict(err) {
		t.Errorf("freezing a Region that is down: %v, want a conflict", err)
	}
	if err := d.freeze(east); err != nil {
		t.Fatal(err)
	}
	d.thawAll()
	if s := state(east); s == 'T' {
		t.Error("thawAll left the server stopped")
	}
}

func waitProc(p *proc.Proc) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		for p.Running() {
			time.Sleep(10 * time.Millisecond)
		}
		close(c)
	}()
	return c
}

// procState is the state letter of pid's main thread (T: stopped).
func procState(t *testing.T, pid int) byte {
	t.Helper()
	var s byte
	for range 100 { // SIGCONT is delivered asynchronously
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.LastIndexByte(string(b), ')')
		if s = b[i+2]; s != 'T' {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}
