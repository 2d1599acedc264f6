package repl

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A fenced writer refuses the application user (which lacks READ ONLY
// ADMIN) and takes its writes again once unfenced.
func TestFenceRefusesTheAppUntilUnfenced(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	run(t, p.app, "INSERT INTO t VALUES (1, 'east')")
	if err := Fence(ctx, p.writer); err != nil {
		t.Fatal(err)
	}
	if ro, err := ReadOnly(ctx, p.writer); err != nil || !ro {
		t.Fatalf("read_only after Fence: %v, %v", ro, err)
	}
	if _, err := p.app.Exec("INSERT INTO t VALUES (2, 'east')"); !isReadOnlyRefusal(err) {
		t.Fatalf("a write on a fenced writer: %v, want error 1290", err)
	}
	if err := Unfence(ctx, p.writer); err != nil {
		t.Fatal(err)
	}
	run(t, p.app, "INSERT INTO t VALUES (2, 'east')")
}

// WaitApplied reports a replica that has not applied a position within
// the timeout (MASTER_GTID_WAIT returns -1) as an error, and succeeds
// once the replica caught up.
func TestWaitAppliedFailsWhileTheReplicaLags(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	if err := WaitApplied(ctx, p.replica, "", time.Second); err != nil {
		t.Fatalf("an empty position is applied everywhere: %v", err)
	}
	if err := Stall(ctx, p.replica); err != nil {
		t.Fatal(err)
	}
	run(t, p.app, "INSERT INTO t VALUES (1, 'east')")
	pos, err := BinlogPos(ctx, p.writer)
	if err != nil {
		t.Fatal(err)
	}
	err = WaitApplied(ctx, p.replica, pos, time.Second)
	if err == nil || !strings.Contains(err.Error(), "has not applied "+pos) {
		t.Fatalf("WaitApplied on a stalled replica: %v, want a timeout naming %s", err, pos)
	}
	if err := Resume(ctx, p.replica); err != nil {
		t.Fatal(err)
	}
	if err := WaitApplied(ctx, p.replica, pos, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, p.replica); got != 1 {
		t.Fatalf("replica holds %d rows after WaitApplied, want 1", got)
	}
}

// A switchover fences, waits, promotes and demotes, in that order: the
// new writer holds every row and takes writes, the old one is read-only
// and replicates from it.
func TestSwitchoverMovesTheWriterWithNoLoss(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	for i := range 50 {
		run(t, p.app, fmt.Sprintf("INSERT INTO t VALUES (%d, 'east')", i))
	}
	var steps []string
	if err := Switchover(ctx, p.writer, p.replica, p.repl, func(s string) { steps = append(steps, s) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"fence east", "wait until west applied ", "promote west", "attach east as replica of west"}
	if len(steps) != len(want) {
		t.Fatalf("steps %q, want %q", steps, want)
	}
	for i := range want {
		if !strings.HasPrefix(steps[i], want[i]) {
			t.Fatalf("steps %q, want %q", steps, want)
		}
	}
	if got := rows(t, p.replica); got != 50 {
		t.Fatalf("the new writer holds %d rows, want 50", got)
	}
	if ro, _ := ReadOnly(ctx, p.replica); ro {
		t.Fatal("the new writer is read-only")
	}
	if ro, _ := ReadOnly(ctx, p.writer); !ro {
		t.Fatal("the old writer is writable")
	}
	if _, err := p.app.Exec("INSERT INTO t VALUES (100, 'east')"); !isReadOnlyRefusal(err) {
		t.Fatalf("the application wrote on the demoted writer: %v", err)
	}
	if st, err := ReplicaStatus(ctx, p.replica); err != nil || st.Configured {
		t.Fatalf("the promoted writer still replicates: %+v %v", st, err)
	}
	run(t, p.replica.Admin, "INSERT INTO "+testDB+".t VALUES (100, 'west')")
	pos, err := BinlogPos(ctx, p.replica)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitApplied(ctx, p.writer, pos, 30*time.Second); err != nil {
		t.Fatalf("the demoted writer does not replicate from the new one: %v", err)
	}
	if got := rows(t, p.writer); got != 51 {
		t.Fatalf("the demoted writer holds %d rows, want 51", got)
	}
}

// An unplanned failover applies what already crossed the link before it
// promotes (RESET SLAVE ALL would delete the relay log), and fences the
// old writer when it still answers.
func TestFailoverDrainsTheRelayLogAndFencesTheOldWriter(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	run(t, p.replica.Admin, "STOP SLAVE SQL_THREAD")
	for i := range 20 {
		run(t, p.app, fmt.Sprintf("INSERT INTO t VALUES (%d, 'east')", i))
	}
	pos, err := BinlogPos(ctx, p.writer)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := ReplicaStatus(ctx, p.replica)
		if err == nil && st.IOPos == pos {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not receive %s: %+v %v", pos, st, err)
		}
	}
	if got := rows(t, p.replica); got != 0 {
		t.Fatalf("the replica applied %d rows with its SQL thread stopped", got)
	}
	old := p.writer
	if err := Failover(ctx, p.replica, &old, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, p.replica); got != 20 {
		t.Fatalf("the promoted replica holds %d rows, want the 20 in its relay log", got)
	}
	if ro, _ := ReadOnly(ctx, p.writer); !ro {
		t.Fatal("the old writer was not fenced")
	}
	if ro, _ := ReadOnly(ctx, p.replica); ro {
		t.Fatal("the promoted replica is read-only")
	}
	if st, err := ReplicaStatus(ctx, p.replica); err != nil || st.Configured {
		t.Fatalf("the promoted replica still replicates: %+v %v", st, err)
	}
}
