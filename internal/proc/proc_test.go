package proc

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A process that cannot bind the port it was given (another program holds
// it) is reported as such, not mistaken for the one answering there.
func TestWaitTCPReportsATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	p, err := Start(dir, "binder", "/bin/sh", []string{"-c", "echo 'bind: address already in use'; exit 1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = WaitTCP(p, l.Addr().String(), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "taken by another program") || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("got %v", err)
	}
}

// StopAll stops exactly the processes with pid files and removes them;
// a pid file whose pid now runs another program is not signalled.
func TestStopAllStopsOnlyItsProcesses(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(dir, "sleeper", "/bin/sleep", []string{"60"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A stale pid file naming our own pid under another program's name.
	stale := filepath.Join(dir, "pids", "stale.pid")
	if err := os.WriteFile(stale, []byte(strconv.Itoa(os.Getpid())+" not-this-program\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stopped, err := StopAll(dir, 2*time.Second)
	if err != nil || len(stopped) != 1 || stopped[0] != "sleeper" {
		t.Fatalf("stopped %v %v", stopped, err)
	}
	select {
	case <-p.Exited():
	case <-time.After(3 * time.Second):
		t.Fatal("sleeper still running")
	}
	if ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("sleeper not ended by a signal: %v", p.Cmd.ProcessState)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "pids", "*")); len(files) != 0 {
		t.Fatalf("pid files left: %v", files)
	}
}

// The ports FreePort picks are never ones the kernel gives outgoing
// connections, nor one it gave before, so neither the lab's own client
// connections nor another of its servers can take one before its server
// binds it.
func TestFreePortStaysOutOfTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	if low <= lowestPickedPort+1 {
		t.Skipf("ephemeral range starts at %d: no room below it", low)
	}
	seen := map[int]bool{}
	for range 300 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < lowestPickedPort || p >= low {
			t.Fatalf("FreePort gave %d; want [%d, %d)", p, lowestPickedPort, low)
		}
		if seen[p] {
			t.Fatalf("port %d given twice", p)
		}
		seen[p] = true
	}
}
