package plan

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

type tick struct{ t time.Time }

func (c *tick) Now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func TestExecuteRecordsEachStepWithTheInjectedClock(t *testing.T) {
	clock := &tick{t: time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)}
	var ran []string
	step := func(name string, err error) Step {
		return Step{Name: name, Run: func(context.Context, Recorder) error { ran = append(ran, name); return err }}
	}
	run := &runlog.Run{ID: "switchover-20261125T040000Z-us-west-2", Kind: "switchover", Values: map[string]string{}}
	var log bytes.Buffer
	err := Execute(context.Background(), Plan{Steps: []Step{step("a", nil), step("b", errors.New("boom")), step("c", nil)}}, run, clock, &log)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "b" || strings.Join(ran, ",") != "a,b" {
		t.Fatalf("%v ran %v", err, ran)
	}
	a := run.Step("a")
	if a.Ended.Sub(a.Started) != time.Second || !a.Done() || run.Step("b").Error != "boom" {
		t.Errorf("journal %+v", run.Steps)
	}
	if s := Summary(run); !strings.Contains(s, "a                      done") || !strings.Contains(s, "b                      failed: boom") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestDirtyStepFoundDoneIsNotRerun(t *testing.T) {
	run := &runlog.Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Values: map[string]string{}}
	run.Step("promote").Started = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC) // started, never ended
	ran := 0
	p := Plan{Steps: []Step{{Name: "promote",
		Done: func(context.Context) (bool, error) { return true, nil },
		Run:  func(context.Context, Recorder) error { ran++; return nil }}}}
	if err := Execute(context.Background(), p, run, &tick{}, &bytes.Buffer{}); err != nil || ran != 0 || run.Step("promote").Note != "found done on resume" {
		t.Errorf("%v ran %d %+v", err, ran, run.Step("promote"))
	}
	// Not done in the world: it is run again, as a second attempt.
	run.Step("promote").Ended, run.Step("promote").Attempts = time.Time{}, 1
	p.Steps[0].Done = func(context.Context) (bool, error) { return false, nil }
	if err := Execute(context.Background(), p, run, &tick{}, &bytes.Buffer{}); err != nil || ran != 1 || run.Step("promote").Attempts != 2 {
		t.Errorf("%v ran %d %+v", err, ran, run.Step("promote"))
	}
}

func TestWaitReportsTheLastError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := Wait(ctx, Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, "the topology", func(context.Context) (bool, error) { return false, errors.New("Throttling") })
	if err == nil || !strings.Contains(err.Error(), "waiting for the topology") || !strings.Contains(err.Error(), "last error: Throttling") {
		t.Errorf("%v", err)
	}
}

func TestPrintListsStepsAndCalls(t *testing.T) {
	var b bytes.Buffer
	Plan{Kind: "switchover", Target: "us-west-2", Steps: []Step{{Name: "switch-writer", Description: "move it", Timeout: 2 * time.Minute, Calls: []string{"rds:SwitchoverGlobalCluster X"}}}}.Print(&b)
	want := "plan switchover -> us-west-2 (1 steps)\n 1. switch-writer          timeout 2m0s   move it\n      rds:SwitchoverGlobalCluster X\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

// Wait backs off from Min to Max between polls and stops at once on an
// error marked Permanent.
func TestWaitBacksOffAndStopsOnPermanentErrors(t *testing.T) {
	var at []time.Time
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := Wait(ctx, Backoff{Min: 2 * time.Millisecond, Max: 16 * time.Millisecond}, "x", func(context.Context) (bool, error) {
		at = append(at, time.Now())
		return len(at) == 7, nil
	})
	if err != nil || len(at) != 7 {
		t.Fatalf("%v after %d polls", err, len(at))
	}
	// Gaps grow 2, 4, 8, 16, 16, 16 ms: the last gap is at least Max.
	if gap := at[6].Sub(at[5]); gap < 16*time.Millisecond {
		t.Errorf("last gap %s, want >= 16ms (backoff to Max)", gap)
	}
	if gap := at[1].Sub(at[0]); gap < 2*time.Millisecond {
		t.Errorf("first gap %s, want >= Min", gap)
	}
	polls := 0
	boom := errors.New("AccessDenied")
	err = Wait(ctx, Backoff{Min: time.Millisecond, Max: time.Millisecond}, "y", func(context.Context) (bool, error) {
		polls++
		return false, Permanent(boom)
	})
	if !errors.Is(err, boom) || polls != 1 || ctx.Err() != nil {
		t.Errorf("permanent error: %v after %d polls", err, polls)
	}
	// An AWS client error that waiting cannot heal stops too; throttling
	// is retried.
	for code, wantPolls := range map[string]int{"AccessDenied": 1, "GlobalClusterNotFoundFault": 1, "Throttling": 3} {
		polls = 0
		err = Wait(ctx, Backoff{Min: time.Millisecond, Max: time.Millisecond}, "z", func(context.Context) (bool, error) {
			if polls++; polls == 3 {
				return true, nil
			}
			return false, &smithy.GenericAPIError{Code: code, Fault: smithy.FaultClient}
		})
		if polls != wantPolls {
			t.Errorf("%s: %d polls (%v), want %d", code, polls, err, wantPolls)
		}
	}
}

// A Done check that fails stops the run; the step
// is not sent again.
func TestFailedDoneCheckFailsClosed(t *testing.T) {
	run := &runlog.Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Values: map[string]string{}}
	run.Step("promote").Started = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	ran := 0
	p := Plan{Steps: []Step{{Name: "promote",
		Done: func(context.Context) (bool, error) { return false, errors.New("RequestTimeout") },
		Run:  func(context.Context, Recorder) error { ran++; return nil }}}}
	err := Execute(context.Background(), p, run, &tick{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "could not check whether promote") || ran != 0 || !run.Step("promote").Dirty() {
		t.Errorf("%v ran %d %+v", err, ran, run.Step("promote"))
	}
}
