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
)

// With the journal, an unplanned failover with replication stalled loses
// no acknowledged payment: the replay step completes, in the new writer,
// every claimed payment it lacked, and the report lists them.
func TestUnplannedFailoverReplaysTheJournal(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal, w.Replicate = true, false
	c, log := controller(w)
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
	// The window starts the lag budget and the margin before the move.
	moved, _ := run.MoveAt()
	from, _, _ := strings.Cut(run.Values[dr.ReplayWindowKey], "/")
	start, err := time.Parse(time.RFC3339, from)
	want := moved.Add(-time.Duration(c.Cfg.Objectives.LagBudgetSeconds)*time.Second - dr.ReplayMargin)
	if err != nil || start.Sub(want).Abs() > time.Second {
		t.Errorf("window from %s, want %s (move %s)", from, want, moved)
	}
	// The same drill without the journal loses the stalled payments.
	w2 := drfake.NewWorld()
	w2.Replicate = false
	c2, log2 := controller(w2)
	res2, err := c2.Drill(context.Background(), drfake.Canary{W: w2}, c2.Failover("us-west-2", true), newRun(t, "drill", "us-west-2"), dr.DrillOptions{Interval: 2 * time.Millisecond, Warmup: 3, Settle: 3})
	if err != nil || len(res2.Result.Lost) == 0 {
		t.Errorf("without the journal: lost %d, %v\n%s", len(res2.Result.Lost), err, log2)
	}
}

// The replay is retried while the new writer's service cannot take it yet.
func TestReplayIsRetriedUntilTheWriterTakesIt(t *testing.T) {
	w := drfake.NewWorld()
	w.Journal, w.ReplayErr = true, 2
	w.Down["us-east-1"] = true
	c, log := controller(w)
	run := newRun(t, "failover", "us-west-2")
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	// The window (lag budget + margin, about two minutes) goes in
	// one-minute chunks; the two refused calls are repeated.
	chunks := map[string]int{}
	for _, r := range w.Replays {
		chunks[r]++
	}
	if n := w.Called("ReplayJournal us-west-2"); n != len(chunks)+2 || len(chunks) < 2 || w.ReplayErr != 0 {
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
	w.Journal, w.Replicate, w.ReplayPage = true, false, 2
	c, log := controller(w)
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
