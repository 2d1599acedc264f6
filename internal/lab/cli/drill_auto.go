package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// automaticCase: the writer's Region is lost and no drctl command runs:
// the lab's Region switch executes the plan make synth wrote, started by
// its trigger on the probes' alarm. With approve, the execution waits for
// drctl approve, which the drill runs once it asks.
func automaticCase(oldWriter, target string, approve bool) Case {
	mode, name := labapi.TriggersAuto, "automatic failover "
	if approve {
		mode, name = labapi.TriggersApprove, "triggered failover, drctl approve, "
	}
	return Case{
		Name: name + oldWriter + " -> " + target, Note: "ARC plan from the template, trigger " + mode + ", replication stalled, then region-down " + oldWriter + "; no drctl move",
		Target: target, Unplanned: true, Automatic: true, Approve: approve, Warmup: 2 * time.Second, Reconcile: oldWriter,
		Inject: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.ARCTriggers, mode); err != nil {
				return err
			}
			return stallFor(stalledLag)(ctx, d)
		},
		During: func(ctx context.Context, d *driver) error { return d.fault(ctx, labapi.RegionDown, oldWriter) },
		Recover: func(ctx context.Context, d *driver) error {
			if err := d.fault(ctx, labapi.ARCTriggers, labapi.TriggersOff); err != nil {
				return err
			}
			return d.fault(ctx, labapi.RegionUp, oldWriter)
		},
	}
}

// automatic applies During with no drctl move, approves when the case
// asks, and waits for the plan's execution to complete and the load to be
// acknowledged by the target through the failover URL. The RTO runs from
// the fault (or from drctl approve) to the first payment the target
// acknowledged.
func (d *driver) automatic(ctx context.Context, c Case) error {
	if err := c.During(ctx, d); err != nil {
		return err
	}
	from := d.cutOff
	id, err := d.awaitExecution(ctx, c)
	if err != nil {
		return err
	}
	if c.Approve {
		if from, err = d.approve(ctx, id); err != nil {
			return err
		}
	}
	if err := d.waitFor(ctx, "execution "+id+" to complete", func() (bool, string, error) {
		st, err := d.lab.Status(ctx)
		if err != nil {
			return false, "", err
		}
		x := st.RegionSwitch.Latest
		if x == nil || x.ID != id {
			return false, "no execution", nil
		}
		if x.State == "failed" || x.State == "canceled" {
			return false, "", fmt.Errorf("execution %s %s (drlab logs: drlab-serve.log)", id, x.State)
		}
		return x.State == "completed", x.State, nil
	}); err != nil {
		return err
	}
	first, err := d.firstAckFrom(ctx, c.Target, from)
	if err != nil {
		return err
	}
	d.auto.rto = first.Sub(from)
	fmt.Fprintf(d.w, "   execution %s completed; first payment acknowledged by %s %s after the %s\n", id, c.Target, d.auto.rto.Round(time.Millisecond), map[bool]string{true: "approval", false: "fault"}[c.Approve])
	return d.readActionJournal(ctx)
}

// automaticRun is what an automatic case measured.
type automaticRun struct {
	execution     string
	started       time.Time
	trigger, rto  time.Duration
	lag, replayed string
}

// readActionJournal takes the lag at failover and the payments replayed
// from the journal the plan's custom actions kept (ARC's report has
// neither).
func (d *driver) readActionJournal(ctx context.Context) error {
	run, err := d.lab.ActionJournal(ctx, arcexec.RunID(arcplan.KindFailover, d.auto.started, d.auto.execution))
	if err != nil {
		return fmt.Errorf("the custom actions' journal of %s: %w", d.auto.execution, err)
	}
	d.auto.lag, d.auto.replayed = run.Values[dr.LagAtFailoverMsKey]+" ms", run.Values[dr.ReplayedCountKey]
	if v, ok := run.Values[dr.LagAtFailoverKey]; ok {
		d.auto.lag = v
	}
	fmt.Fprintf(d.w, "   its journal: lag at failover %s, payments replayed from the payment journal %s\n", d.auto.lag, d.auto.replayed)
	return nil
}

// awaitExecution waits for the trigger to start an execution after the
// fault and returns its ID.
func (d *driver) awaitExecution(ctx context.Context, c Case) (string, error) {
	var id string
	err := d.waitFor(ctx, "the plan's trigger to start an execution", func() (bool, string, error) {
		st, err := d.lab.Status(ctx)
		if err != nil {
			return false, "", err
		}
		if e := st.RegionSwitch.Error; e != "" {
			return false, "", errors.New("the lab has no Region switch plan: " + e)
		}
		x := st.RegionSwitch.Latest
		if x == nil || x.Started.Before(d.cutOff) || x.Region != c.Target {
			return false, "no execution since the fault", nil
		}
		id = x.ID
		d.auto.execution, d.auto.started, d.auto.trigger = x.ID, x.Started, x.Started.Sub(d.cutOff)
		fmt.Fprintf(d.w, "   trigger started %s (%s %s of %s) %s after the fault\n", x.ID, x.Mode, x.Action, x.Region, x.Started.Sub(d.cutOff).Round(time.Millisecond))
		return true, "", nil
	})
	return id, err
}

// approve runs drctl approve once the execution waits for it, and
// returns when it did.
func (d *driver) approve(ctx context.Context, id string) (time.Time, error) {
	err := d.waitFor(ctx, "execution "+id+" to ask for approval", func() (bool, string, error) {
		st, err := d.lab.Status(ctx)
		if err != nil {
			return false, "", err
		}
		x := st.RegionSwitch.Latest
		return x != nil && x.ID == id && x.PendingApproval != "", "not pending approval", nil
	})
	if err != nil {
		return time.Time{}, err
	}
	at := time.Now()
	out, err := d.lab.Drctl(ctx, "approve", "--execution", id, "--comment", "make drill")
	if err != nil {
		return time.Time{}, fmt.Errorf("drctl approve: %w\n%s", err, out)
	}
	fmt.Fprintf(d.w, "   drctl approve %s at %s\n", id, at.UTC().Format("15:04:05.000"))
	return at, nil
}

// firstAckFrom is when target first acknowledged a payment through the
// failover URL after from.
func (d *driver) firstAckFrom(ctx context.Context, target string, from time.Time) (time.Time, error) {
	var first time.Time
	err := d.waitFor(ctx, target+" to acknowledge a payment through the failover URL", func() (bool, string, error) {
		list, err := completeAcks(filepath.Join(d.reports, "acks.jsonl"))
		if err != nil {
			return false, "", err
		}
		for _, a := range list {
			if a.Acknowledged() && a.Region == target && a.At.After(from) && (first.IsZero() || a.At.Before(first)) {
				first = a.At
			}
		}
		return !first.IsZero(), "none yet", nil
	})
	return first, err
}

// completeAcks reads the acknowledgements a running load wrote so far:
// its last line may be half written.
func completeAcks(path string) ([]acks.Ack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	return acks.Parse(bytes.NewReader(b))
}
