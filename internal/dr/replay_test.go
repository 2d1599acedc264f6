package dr_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// markReplicated writes a payment that replicates (with the writer's
// mark) and returns the mark's time.
func markReplicated(t *testing.T, w *drfake.World) time.Time {
	t.Helper()
	if _, _, err := (drfake.Canary{W: w}).Write(context.Background(), "replicated"); err != nil {
		t.Fatal(err)
	}
	b, err := w.ReplayWindowAfter(context.Background(), "us-west-2", "us-east-1")
	if err != nil || !b.Known() {
		t.Fatalf("no mark after a replicated payment: %+v %v", b, err)
	}
	return b.Mark
}

// With the journal, an unplanned failover with replication stalled loses
// no acknowledged payment: the replay step completes, in the new writer,
// every claimed payment it lacked, and the report lists them.
func TestUnplannedFailoverReplaysTheJournal(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal = true
	c, log := controller(w)
	replicated := markReplicated(t, w)
	w.Replicate = false
	run := newRun(t, "drill", "us-west-2")
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Failover("us-west-2", true), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if n := len(res.Result.Lost); n != 0 {
		t.Errorf("%d acknowledged payments missing from the new writer", n)
	}
	keys := strings.Fields(run.Values[dr.ReplayedKeysKey])
	if len(keys) < 3 || !strings.HasPrefix(run.Values[dr.ReplayedCountKey], strconv.Itoa(len(keys))+" ") {
		t.Errorf("replayed keys %q (%s)", keys, run.Values[dr.ReplayedCountKey])
	}
	for _, k := range keys {
		if !strings.Contains(k, "=p") {
			t.Errorf("replayed key %q names no payment", k)
		}
	}
	// Nothing hit a bound: one call per chunk.
	if calls := run.Values[dr.ReplayCallsKey]; !strings.Contains(calls, "; 0 answers incomplete, 0 calls failed") || strings.Contains(calls, "2") && !strings.Contains(calls, "for 2 chunks (1 1)") {
		t.Errorf("replay calls %q", calls)
	}
	// The window starts at the old writer's newest mark in the new
	// writer's database, less the longest a claim takes to commit.
	from, _, _ := strings.Cut(run.Values[dr.ReplayWindowKey], "/")
	start, err := time.Parse(time.RFC3339Nano, from)
	want := replicated.Add(-payments.ClaimCommitDeadline - payments.ReplaySlack)
	if err != nil || !start.Equal(want) {
		t.Errorf("window from %s, want %s (the mark %s)", from, want, replicated)
	}
	// The same drill without the journal loses the stalled payments.
	w2 := drfake.NewWorld()
	c2, log2 := controller(w2)
	markReplicated(t, w2)
	w2.Replicate = false
	res2, err := c2.Drill(context.Background(), drfake.Canary{W: w2}, c2.Failover("us-west-2", true), newRun(t, "drill", "us-west-2"), dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil || len(res2.Result.Lost) == 0 {
		t.Errorf("without the journal: lost %d, %v\n%s", len(res2.Result.Lost), err, log2)
	}
}

// The replay is retried while the new writer's service cannot take it yet.
func TestReplayIsRetriedUntilTheWriterTakesIt(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal, w.ReplayErr = true, 2
	markReplicated(t, w)
	w.Down["us-east-1"] = true
	c, log := controller(w)
	run := newRun(t, "failover", "us-west-2")
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	// The window goes in one-minute chunks; the two refused calls are
	// repeated.
	chunks := map[string]int{}
	for _, r := range w.Replays {
		chunks[r]++
	}
	if n := w.Called("ReplayJournal us-west-2"); n != len(chunks)+2 || len(chunks) < 1 || w.ReplayErr != 0 {
		t.Errorf("%d replay calls for %d chunks %v, want two more (refused, then repeated)", n, len(chunks), w.Replays)
	}
	if run.Values[dr.ReplayedCountKey] == "" {
		t.Error("the replay's outcome is not in the report")
	}
}

// An incomplete answer (the function's page full, or its time up) is
// followed by another call for the same chunk until one is complete; the
// report lists every replayed payment once and how many calls each chunk
// took.
func TestReplayAsksAgainUntilTheAnswerIsComplete(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal, w.ReplayPage = true, 2
	c, log := controller(w)
	markReplicated(t, w)
	w.Replicate = false
	run := newRun(t, "drill", "us-west-2")
	res, err := c.Drill(context.Background(), drfake.Canary{W: w}, c.Failover("us-west-2", true), run, dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if n := len(res.Result.Lost); n != 0 {
		t.Errorf("%d acknowledged payments missing from the new writer", n)
	}
	keys := strings.Fields(run.Values[dr.ReplayedKeysKey])
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
	}
	if len(keys) <= w.ReplayPage {
		t.Fatalf("%d payments replayed: the test needs more than one page", len(keys))
	}
	chunks := map[string]bool{}
	for _, r := range w.Replays {
		chunks[r] = true
	}
	calls := run.Values[dr.ReplayCallsKey]
	want := fmt.Sprintf("%d calls for %d chunks (", len(w.Replays), len(chunks))
	incomplete := len(w.Replays) - len(chunks)
	if incomplete < 1 || !strings.HasPrefix(calls, want) || !strings.HasSuffix(calls, fmt.Sprintf("; %d answers incomplete, 0 calls failed", incomplete)) {
		t.Errorf("replay calls %q for %d calls (%v)", calls, len(w.Replays), w.Replays)
	}
	if !strings.HasPrefix(run.Values[dr.ReplayedCountKey], strconv.Itoa(len(keys))+" ") {
		t.Errorf("replayed %q, %d keys listed", run.Values[dr.ReplayedCountKey], len(keys))
	}
}

// Replication stopped five minutes before the failover (longer than the
// lag budget and any fixed margin), and drctl's clock is an hour off: the
// replay still starts before the first payment the new writer lacks,
// because the start is the old writer's newest mark in the new writer's
// database, read by its own service.
func TestReplayWindowComesFromTheNewWritersDatabaseNotAFixedBudget(t *testing.T) {
	w := drfake.NewWorld()
	var offset time.Duration
	w.Now = func() time.Time { return time.Now().Add(offset) }
	w.Journal = true
	c, log := controller(w)
	c.Clock = skewed{time.Hour}
	c.Timeout = 20 * time.Second
	markReplicated(t, w)
	w.Replicate = false
	canary := drfake.Canary{W: w}
	var lost []string
	for i := range 5 {
		offset += time.Minute
		id, _, err := canary.Write(context.Background(), fmt.Sprintf("stalled-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		lost = append(lost, id)
	}
	offset += 5 * time.Minute
	w.Down["us-east-1"] = true
	run := newRun(t, "failover", "us-west-2")
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("failover: %v\n%s", err, log)
	}
	for _, id := range lost {
		if ok, _ := canary.Read(context.Background(), "us-west-2", id); !ok {
			t.Errorf("acknowledged %s, made during the stall, is missing from the new writer (window %s)", id, run.Values[dr.ReplayWindowKey])
		}
	}
}

// skewed is drctl's clock off by d.
type skewed struct{ d time.Duration }

func (s skewed) Now() time.Time { return time.Now().Add(s.d) }

// A new writer whose database never replicated a mark of the old one
// cannot tell which claims it lacks: the replay stops and asks for a
// start; given one (--replay-from), it replays from there.
func TestReplayWithoutAMarkAsksForAStart(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal, w.Replicate = true, false
	w.ForgetMarks("us-west-2")
	canary := drfake.Canary{W: w}
	id, _, err := canary.Write(context.Background(), "never-replicated")
	if err != nil {
		t.Fatal(err)
	}
	w.Down["us-east-1"] = true
	c, log := controller(w)
	c.Timeout = 10 * time.Second
	run := newRun(t, "failover", "us-west-2")
	err = plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log)
	if err == nil || !strings.Contains(err.Error(), "--replay-from") {
		t.Fatalf("failover without a mark: %v, want it to ask for --replay-from\n%s", err, log)
	}
	c.ReplayFrom = time.Now().Add(-time.Hour)
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("resumed with --replay-from: %v\n%s", err, log)
	}
	if ok, _ := canary.Read(context.Background(), "us-west-2", id); !ok || !strings.Contains(run.Values[dr.ReplayWindowKey], "--replay-from") {
		t.Errorf("after --replay-from: %s present %v, window %s", id, ok, run.Values[dr.ReplayWindowKey])
	}
}
