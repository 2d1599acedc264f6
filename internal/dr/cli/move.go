package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// moveFlags are the flags of every command that moves the writer.
func moveFlags(fs *flag.FlagSet, v *inv, withTo bool) {
	o := &v.o
	fs.StringVar(&o.ReportDir, "report-dir", "dr-runs", "where each run's journal and report go (<dir>/<run-id>/)")
	fs.BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the plan and the API calls it would make, change nothing")
	fs.StringVar(&o.Resume, "resume", "", "resume the interrupted run with this id (see <report-dir>)")
	fs.BoolVar(&o.New, "new", false, "start a new run even if an unfinished run of the same kind and target exists")
	fs.BoolVar(&o.JournalDDB, "journal-ddb", false, "also keep the journal as an item of the session global table (resumable from any machine)")
	if withTo {
		fs.StringVar(&o.To, "to", "", "target Region")
	}
}

// checkMove validates the flags common to moves.
func checkMove(v *inv, name string) error {
	o := v.o
	if o.To == "" {
		return badUsage("%s needs --to REGION (%s or %s)", name, v.cfg.PrimaryRegion, v.cfg.SecondaryRegion)
	}
	if err := v.controller(nil).CheckRegion(o.To); err != nil {
		return usageError{err.Error()}
	}
	if o.Resume != "" && !runlog.ValidID(o.Resume) {
		return badUsage("--resume %q is not a run id (like switchover-20261125T040000Z-us-west-2)", o.Resume)
	}
	if o.Resume != "" && o.New {
		return badUsage("--resume and --new exclude each other")
	}
	if o.DryRun && (o.Resume != "" || o.JournalDDB) {
		return badUsage("--dry-run changes nothing: it takes neither --resume nor --journal-ddb")
	}
	return nil
}

var cmdSwitchover = &Command{
	Name: "switchover", UsageLine: "switchover --to REGION [--via drctl|arc]", Short: "planned move of the writer, no data loss",
	Flags: func(fs *flag.FlagSet, v *inv) { moveFlags(fs, v, true); viaFlag(fs, v) },
	Check: func(v *inv) error {
		if err := checkMove(v, "switchover"); err != nil {
			return err
		}
		return checkVia(v)
	},
	Run: func(ctx context.Context, v *inv) error {
		if v.o.Via == ViaARC {
			return v.arcMove(ctx, arcStart{kind: arcplan.KindSwitchover, action: arcplan.Activate, mode: arcplan.Graceful, region: v.o.To})
		}
		return v.move(ctx, "switchover", func(c *dr.Controller) plan.Plan { return c.Switchover(v.o.To) })
	},
}

var cmdFailover = &Command{
	Name: "failover", UsageLine: "failover --to REGION [--allow-data-loss] [--via drctl|arc]",
	Short: "promotion; --allow-data-loss when the writer's Region is lost (fences it, keeps its data)",
	Flags: func(fs *flag.FlagSet, v *inv) {
		moveFlags(fs, v, true)
		fs.BoolVar(&v.allowLoss, "allow-data-loss", false, "unplanned failover: promote even though unreplicated writes are lost")
		fs.StringVar(&v.replayFrom, "replay-from", "", "with --allow-data-loss: replay the journal from this time (RFC 3339) if that is earlier than the new writer's database says, or if it says nothing")
		viaFlag(fs, v)
	},
	Check: func(v *inv) error {
		if err := checkMove(v, "failover"); err != nil {
			return err
		}
		if err := checkVia(v); err != nil {
			return err
		}
		if v.o.Via == ViaARC && !v.allowLoss {
			// ARC's Aurora block in ungraceful mode is FailoverGlobalCluster
			// with AllowDataLoss: say so, as drctl's own failover asks.
			return badUsage("--via arc: a failover through ARC is ungraceful (FailoverGlobalCluster with AllowDataLoss): add --allow-data-loss, or move without data loss with switchover --via arc")
		}
		return v.checkReplayFrom()
	},
	Run: func(ctx context.Context, v *inv) error {
		if v.o.Via == ViaARC {
			return v.arcMove(ctx, arcStart{kind: arcplan.KindFailover, action: arcplan.Activate, mode: arcplan.Ungraceful, region: v.o.To})
		}
		return v.move(ctx, "failover", func(c *dr.Controller) plan.Plan { return c.Failover(v.o.To, v.allowLoss) })
	},
}

var cmdFailback = &Command{
	Name: "failback", UsageLine: "failback", Short: "let the primary write again and switch back to it",
	Flags: func(fs *flag.FlagSet, v *inv) { moveFlags(fs, v, false) },
	Check: func(v *inv) error { v.o.To = v.cfg.PrimaryRegion; return checkMove(v, "failback") },
	Run: func(ctx context.Context, v *inv) error {
		return v.move(ctx, "failback", func(c *dr.Controller) plan.Plan { return c.Failback() })
	},
}

// move runs a plan that moves the writer: dry run, or connect, choose the
// run (resumed only if the world still matches it), confirm, persist,
// execute and report. The plan is built once.
func (v *inv) move(ctx context.Context, kind string, build func(*dr.Controller) plan.Plan) error {
	c := v.controller(nil)
	p := build(c)
	p.Kind = kind // a drill runs a switchover or failover plan
	if v.o.DryRun {
		v.printDryRun(kind, p)
		return nil
	}
	conn, err := v.connect(ctx)
	if err != nil {
		return err
	}
	c.Cloud, c.Reconcile = conn.Cloud, conn.Reconcile
	c.ReplayFrom = v.replayFromTime
	if c.Poll == 0 {
		c.Poll = conn.Poll
	}
	run, err := v.chooseRun(ctx, c, p, kind, conn.Mirror)
	if err != nil {
		return err
	}
	defer run.Close()
	fmt.Fprintf(v.d.Stdout, "run %s (journal %s)\n", run.ID, filepath.Join(run.Dir(), "journal.json"))
	var drill *dr.DrillResult
	var runErr error
	if kind == "drill" {
		res, err := c.Drill(ctx, conn.Canary, p, run, dr.DrillOptions{Interval: v.interval})
		drill, runErr = &res, err
	} else {
		runErr = plan.Execute(ctx, p, run, c.Clock, v.d.Stdout)
	}
	if err := v.report(run, drill); err != nil {
		return errors.Join(runErr, err)
	}
	if runErr != nil {
		return fmt.Errorf("%w\nresume with: %s", runErr, v.resumeCommand(kind, run.ID))
	}
	return nil
}

func (v *inv) printDryRun(kind string, p plan.Plan) {
	out := v.d.Stdout
	id := runlog.NewID(kind, v.o.To, v.d.Now())
	fmt.Fprintf(out, "dry run of %s in %s (nothing is changed; no AWS call is made)\n", kind, v.cfg.Environment)
	fmt.Fprintf(out, "run id would be %s; journal and report in %s\n", id, filepath.Join(v.o.ReportDir, id))
	if kind == "drill" {
		fmt.Fprintf(out, "objectives: RTO %ds, RPO %ds (%s)\n", v.cfg.Objectives.RTOSeconds, v.cfg.Objectives.RPOSeconds, v.o.ConfigPath)
		fmt.Fprintf(out, "canaries: POST https://%s/payments every %s (before, during and after the plan), then GET https://%s/payments/{id} for each the old primary acknowledged\n",
			apiHost(v.cfg), v.interval, regionalHost(v.cfg, v.o.To))
	}
	p.Print(out)
}

// resumeCommand is the command line that resumes run id.
func (v *inv) resumeCommand(kind, id string) string {
	parts := []string{"drctl", kind, "--config", v.o.ConfigPath}
	switch kind {
	case "failback":
	case "rejoin":
		parts = append(parts, "--region", v.o.To)
	default:
		parts = append(parts, "--to", v.o.To)
	}
	if v.allowLoss {
		parts = append(parts, "--allow-data-loss")
	}
	if v.replayFrom != "" {
		parts = append(parts, "--replay-from", v.replayFrom)
	}
	if v.unplanned {
		parts = append(parts, "--unplanned")
	}
	if v.o.ReportDir != "dr-runs" {
		parts = append(parts, "--report-dir", v.o.ReportDir)
	}
	if v.o.JournalDDB {
		parts = append(parts, "--journal-ddb")
	}
	if v.o.Lab != "" {
		parts = append(parts, "--lab", v.o.Lab)
	}
	return strings.Join(append(parts, "--resume", id), " ")
}

var cmdDrill = &Command{
	Name: "drill", UsageLine: "drill [--to REGION] [--unplanned]",
	Short: "canary writes + switchover (or unplanned failover), measures RTO and RPO",
	Flags: func(fs *flag.FlagSet, v *inv) {
		moveFlags(fs, v, true)
		fs.BoolVar(&v.unplanned, "unplanned", false, "drill an unplanned failover (allow data loss) instead of a switchover")
		fs.BoolVar(&v.force, "force", false, "allow a drill in an environment marked production")
		fs.DurationVar(&v.interval, "interval", time.Second, "time between canary writes")
		fs.StringVar(&v.o.APIKeyFile, "api-key-file", "", "file holding the payment API key (default: read it from Secrets Manager)")
	},
	Check: func(v *inv) error {
		if v.o.To == "" {
			v.o.To = v.cfg.SecondaryRegion
		}
		if v.cfg.Production && !v.force {
			return fmt.Errorf("refusing to drill %q: the configuration marks it production (use --force if you mean it)", v.cfg.Environment)
		}
		if v.interval < 100*time.Millisecond || v.interval > time.Minute {
			return badUsage("--interval %s must be between 100ms and 1m", v.interval)
		}
		v.o.Canary = true
		return checkMove(v, "drill")
	},
	Run: func(ctx context.Context, v *inv) error {
		return v.move(ctx, "drill", func(c *dr.Controller) plan.Plan {
			if v.unplanned {
				return c.Failover(v.o.To, true)
			}
			return c.Switchover(v.o.To)
		})
	},
}

// checkReplayFrom validates --replay-from: a time in the past, within the
// journal's retention (older claims are gone), and only for an unplanned
// failover (the only move that replays).
func (v *inv) checkReplayFrom() error {
	if v.replayFrom == "" {
		return nil
	}
	if !v.allowLoss {
		return badUsage("--replay-from applies to an unplanned failover: add --allow-data-loss")
	}
	t, err := time.Parse(time.RFC3339, v.replayFrom)
	if err != nil {
		return badUsage("--replay-from %q is not an RFC 3339 time (like 2026-11-25T04:00:00Z)", v.replayFrom)
	}
	now := v.d.Now()
	if !t.Before(now) {
		return badUsage("--replay-from %s is not in the past", v.replayFrom)
	}
	if t.Before(now.Add(-payments.DefaultJournalRetention)) {
		return badUsage("--replay-from %s is older than the journal's retention (%s): its claims are gone", v.replayFrom, payments.DefaultJournalRetention)
	}
	v.replayFromTime = t
	return nil
}
