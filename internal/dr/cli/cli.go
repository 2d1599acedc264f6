// Package cli is drctl's command line: flag parsing and validation,
// confirmation, journal and report files. cmd/drctl only calls Main.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/journal"
	"github.com/payment-dr/payment-dr/internal/dr/measure"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/report"
)

// Deps are what the commands need from the outside world; tests replace them.
type Deps struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// Connect builds the Cloud (and the canary, for drills) once the
	// flags are valid: nothing touches AWS before that.
	Connect func(ctx context.Context, cfg config.Config, o Options) (Conn, error)
	// Poll overrides how often steps re-check AWS (tests); 0 means 5 s.
	Poll time.Duration
}

// Conn is what Connect provides.
type Conn struct {
	Cloud  dr.Cloud
	Canary dr.Canary // drills only
	// Mirror is the DynamoDB copy of the journal (--journal-ddb), or nil.
	Mirror journal.Mirror
}

// Options are the flags common to the commands.
type Options struct {
	ConfigPath string
	RoleARN    string
	MFASerial  string
	APIKeyFile string
	ReportDir  string
	Yes        bool
	DryRun     bool
	JSON       bool
	Resume     string
	// New starts a fresh run even if an unfinished one of the same kind
	// and target exists (which is otherwise resumed automatically).
	New bool
	// JournalDDB mirrors the journal to a DynamoDB item (see awsops).
	JournalDDB bool
	To         string
	// Canary is set for drills: Connect must then provide a working
	// canary (its API key), or fail before anything moves.
	Canary bool
}

const usage = `drctl: evaluate, drill and execute a Region switchover or failover of payment-dr

usage: drctl <command> [flags]

commands:
  status                      where the writer is, lag, health checks, replicas, backups
  evaluate                    would a switchover or failover succeed now? (exit 1 with findings)
  switchover --to REGION      planned move of the writer, no data loss
  failover --to REGION        unplanned promotion; --allow-data-loss when the writer's Region is lost
  failback                    switchover back to the configured primary
  drill [--to REGION]         canary writes + switchover (or failover with --unplanned), measures RTO and RPO

Changing commands (switchover, failover, failback, drill) print their plan
with --dry-run, ask for the target Region unless --yes, keep a journal under
--report-dir and resume an unfinished run of the same kind and target
automatically (or --resume RUN_ID; --new starts afresh).

run 'drctl <command> -h' for a command's flags`

// Main runs drctl and returns the exit code.
func Main(args []string, d Deps) int {
	if d.Now == nil {
		d.Now = time.Now
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(d.Stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, args[0], args[1:], d)
	var usageErr usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usageErr):
		fmt.Fprintln(d.Stderr, "drctl:", err)
		return 2
	case errors.Is(err, errFindings):
		return 1
	default:
		fmt.Fprintln(d.Stderr, "drctl:", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

var errFindings = errors.New("evaluate found problems")

func run(ctx context.Context, cmd string, args []string, d Deps) error {
	var o Options
	fs := flag.NewFlagSet("drctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(d.Stderr)
	fs.StringVar(&o.ConfigPath, "config", envOr("PAYMENT_DR_CONFIG", "config/dev.json"), "environment configuration (env PAYMENT_DR_CONFIG)")
	fs.StringVar(&o.RoleARN, "role-arn", "", "assume this role (the stack's payment-dr-automation-<env>) before acting")
	fs.StringVar(&o.MFASerial, "mfa-serial", "", "MFA device ARN for --role-arn (the DR role requires MFA); the code is read from the terminal")
	var unplanned, force, allowLoss bool
	var interval time.Duration
	switch cmd {
	case "status", "evaluate":
		fs.BoolVar(&o.JSON, "json", false, "print JSON")
	case "switchover", "failover", "failback", "drill":
		fs.StringVar(&o.ReportDir, "report-dir", "dr-runs", "where each run's journal and report go (<dir>/<run-id>/)")
		fs.BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
		fs.BoolVar(&o.DryRun, "dry-run", false, "print the plan and the API calls it would make, change nothing")
		fs.StringVar(&o.Resume, "resume", "", "resume the interrupted run with this id (see <report-dir>)")
		fs.BoolVar(&o.New, "new", false, "start a new run even if an unfinished run of the same kind and target exists")
		fs.BoolVar(&o.JournalDDB, "journal-ddb", false, "also keep the journal as an item of the session global table (resumable from any machine)")
		if cmd != "failback" {
			def := ""
			if cmd == "drill" {
				def = "(default: the configured secondary)"
			}
			fs.StringVar(&o.To, "to", "", "target Region "+def)
		}
		if cmd == "failover" {
			fs.BoolVar(&allowLoss, "allow-data-loss", false, "unplanned failover: promote even though unreplicated writes are lost")
		}
		if cmd == "drill" {
			fs.BoolVar(&unplanned, "unplanned", false, "drill an unplanned failover (allow data loss) instead of a switchover")
			fs.BoolVar(&force, "force", false, "allow a drill in an environment marked production")
			fs.DurationVar(&interval, "interval", time.Second, "time between canary writes")
			fs.StringVar(&o.APIKeyFile, "api-key-file", "", "file holding the payment API key (default: read it from Secrets Manager)")
		}
	default:
		return badUsage("unknown command %q (want status, evaluate, switchover, failover, failback or drill)", cmd)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return badUsage("unexpected arguments %q", fs.Args())
	}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	switch cmd {
	case "switchover", "failover":
		if o.To == "" {
			return badUsage("%s needs --to REGION (%s or %s)", cmd, cfg.PrimaryRegion, cfg.SecondaryRegion)
		}
	case "failback":
		o.To = cfg.PrimaryRegion
	case "drill":
		if o.To == "" {
			o.To = cfg.SecondaryRegion
		}
		if cfg.Production && !force {
			return fmt.Errorf("refusing to drill %q: the configuration marks it production (use --force if you mean it)", cfg.Environment)
		}
		o.Canary = true
		if interval < 100*time.Millisecond || interval > time.Minute {
			return badUsage("--interval %s must be between 100ms and 1m", interval)
		}
	}
	if o.To != "" && o.To != cfg.PrimaryRegion && o.To != cfg.SecondaryRegion {
		return badUsage("--to %q is not a Region of %s (%s or %s)", o.To, cfg.Environment, cfg.PrimaryRegion, cfg.SecondaryRegion)
	}
	if o.Resume != "" && !journal.ValidID(o.Resume) {
		return badUsage("--resume %q is not a run id (like switchover-20261125T040000Z-us-west-2)", o.Resume)
	}
	if o.MFASerial != "" && o.RoleARN == "" {
		return badUsage("--mfa-serial needs --role-arn")
	}

	if o.Resume != "" && o.New {
		return badUsage("--resume and --new exclude each other")
	}
	if o.DryRun && (o.Resume != "" || o.JournalDDB) {
		return badUsage("--dry-run changes nothing: it takes neither --resume nor --journal-ddb")
	}

	c := &dr.Controller{Cfg: cfg, Clock: clockFunc(d.Now), Log: d.Stdout, Poll: d.Poll}
	build := func(run *journal.Run) plan.Plan {
		switch {
		case cmd == "failback":
			return c.Failback()
		case cmd == "failover":
			return c.Failover(o.To, allowLoss, run)
		case cmd == "drill" && unplanned:
			return c.Failover(o.To, true, run)
		default:
			return c.Switchover(o.To)
		}
	}
	if o.DryRun && o.To != "" {
		run := newRun(cmd, o.To, cfg, d.Now())
		fmt.Fprintf(d.Stdout, "dry run of %s in %s (nothing is changed; no AWS call is made)\n", cmd, cfg.Environment)
		fmt.Fprintf(d.Stdout, "run id would be %s; journal and report in %s\n", run.ID, filepath.Join(o.ReportDir, run.ID))
		if cmd == "drill" {
			fmt.Fprintf(d.Stdout, "objectives: RTO %ds, RPO %ds (%s)\n", cfg.Objectives.RTOSeconds, cfg.Objectives.RPOSeconds, o.ConfigPath)
			fmt.Fprintf(d.Stdout, "canaries: POST https://%s/payments every %s (before, during and after the plan), then GET https://%s/payments/{id} for each acknowledged before the writer moves\n",
				apiHost(cfg), interval, regionalHost(cfg, o.To))
		}
		build(run).Print(d.Stdout)
		return nil
	}

	conn, err := d.Connect(ctx, cfg, o)
	if err != nil {
		return err
	}
	c.Cloud = conn.Cloud
	switch cmd {
	case "status":
		s := c.Status(ctx)
		if o.JSON {
			return s.WriteJSON(d.Stdout)
		}
		s.WriteText(d.Stdout)
		return nil
	case "evaluate":
		findings := c.Evaluate(ctx)
		if o.JSON {
			fmt.Fprintln(d.Stdout, toJSON(map[string]any{"ready": len(findings) == 0, "findings": orEmpty(findings)}))
		} else if len(findings) == 0 {
			fmt.Fprintln(d.Stdout, "ready: a switchover or failover would succeed now")
		} else {
			fmt.Fprintf(d.Stdout, "NOT READY: %d findings\n", len(findings))
			for _, f := range findings {
				fmt.Fprintln(d.Stdout, "  -", f)
			}
		}
		if len(findings) > 0 {
			return errFindings
		}
		return nil
	}

	run, resumed, err := resolveRun(ctx, d, o, cmd, cfg, conn.Mirror)
	if err != nil {
		return err
	}
	if !resumed {
		if err := c.CheckTarget(ctx, o.To); err != nil {
			if errors.Is(err, dr.ErrNothingToDo) {
				return usageError{err.Error()}
			}
			return err
		}
	}
	p := build(run)
	if !o.Yes {
		if err := confirm(d, cmd, o.To, cfg); err != nil {
			return err
		}
	}
	if !run.Persistent() {
		if run, err = journal.Create(o.ReportDir, *run); err != nil {
			return err
		}
		p = build(run) // the failover plan records into the persisted run
	}
	if conn.Mirror != nil {
		run.SetMirror(conn.Mirror, func(err error) { fmt.Fprintf(d.Stderr, "drctl: warning: %v\n", err) })
		if err := run.Save(); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.Stdout, "run %s (journal %s)\n", run.ID, filepath.Join(run.Dir(), "journal.json"))
	var drill *dr.DrillResult
	var runErr error
	if cmd == "drill" {
		res, err := c.Drill(ctx, conn.Canary, p, run, dr.DrillOptions{Interval: interval})
		drill, runErr = &res, err
	} else {
		runErr = plan.Execute(ctx, p, run, c.Clock, d.Stdout)
	}
	if runErr == nil {
		run.Completed = true
		if err := run.Save(); err != nil {
			return err
		}
	}
	obj := report.Objectives{RTO: time.Duration(cfg.Objectives.RTOSeconds) * time.Second, RPO: time.Duration(cfg.Objectives.RPOSeconds) * time.Second}
	var result *measure.Result
	var samples []measure.Sample
	if drill != nil {
		result, samples = &drill.Result, drill.Samples
	}
	rep := report.Build(run, obj, result, samples)
	if err := writeReports(rep, run.Dir()); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout)
	rep.WriteText(d.Stdout)
	fmt.Fprintf(d.Stdout, "report: %s/report.{txt,json,svg}\n", run.Dir())
	if runErr != nil {
		return fmt.Errorf("%w\nresume with: %s", runErr, resumeCommand(cmd, o, allowLoss, unplanned, run.ID))
	}
	return nil
}

// resumeCommand is the command line that resumes run id.
func resumeCommand(cmd string, o Options, allowLoss, unplanned bool, id string) string {
	parts := []string{"drctl", cmd, "--config", o.ConfigPath}
	if cmd != "failback" {
		parts = append(parts, "--to", o.To)
	}
	if allowLoss {
		parts = append(parts, "--allow-data-loss")
	}
	if unplanned {
		parts = append(parts, "--unplanned")
	}
	if o.ReportDir != "dr-runs" {
		parts = append(parts, "--report-dir", o.ReportDir)
	}
	if o.JournalDDB {
		parts = append(parts, "--journal-ddb")
	}
	return strings.Join(append(parts, "--resume", id), " ")
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func newRun(kind, target string, cfg config.Config, now time.Time) *journal.Run {
	return &journal.Run{ID: journal.NewID(kind, target, now), Kind: kind, Target: target, Env: cfg.Environment, Created: now.UTC(), Values: map[string]string{}}
}

// resolveRun returns the run to execute and whether it is resumed: the
// journal named by --resume (fetched from the mirror if this machine has
// none), else the newest unfinished run of the same kind and target in
// --report-dir (unless --new), else a new in-memory run that is persisted
// once confirmed.
func resolveRun(ctx context.Context, d Deps, o Options, kind string, cfg config.Config, m journal.Mirror) (*journal.Run, bool, error) {
	if o.Resume != "" {
		run, err := journal.OpenOrFetch(ctx, o.ReportDir, o.Resume, m)
		if err != nil {
			return nil, false, err
		}
		if run.Kind != kind || run.Target != o.To || run.Env != cfg.Environment {
			return nil, false, badUsage("run %s is a %s to %s in %s, not a %s to %s in %s", run.ID, run.Kind, run.Target, run.Env, kind, o.To, cfg.Environment)
		}
		if run.Completed {
			return nil, false, badUsage("run %s is already complete; start a new one without --resume", run.ID)
		}
		fmt.Fprintf(d.Stdout, "resuming run %s\n%s", run.ID, plan.Summary(run))
		return run, true, nil
	}
	unfinished, err := journal.Unfinished(o.ReportDir, cfg.Environment)
	if err != nil {
		fmt.Fprintf(d.Stderr, "drctl: warning: %v\n", err)
	}
	var match *journal.Run
	for _, r := range unfinished {
		if r.Kind == kind && r.Target == o.To {
			match = r
			continue
		}
		fmt.Fprintf(d.Stderr, "drctl: note: unfinished %s to %s: %s (resume it with drctl %s --resume %s)\n", r.Kind, r.Target, r.ID, r.Kind, r.ID)
	}
	if match != nil && !o.New {
		fmt.Fprintf(d.Stdout, "resuming unfinished run %s (use --new to start a fresh run)\n%s", match.ID, plan.Summary(match))
		return match, true, nil
	}
	return newRun(kind, o.To, cfg, d.Now()), false, nil
}

func confirm(d Deps, cmd, target string, cfg config.Config) error {
	fmt.Fprintf(d.Stdout, "%s of %s: the writer moves to %s. Type the Region name to continue: ", cmd, cfg.Environment, target)
	line, err := bufio.NewReader(d.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("not confirmed (no input; use --yes for unattended runs)")
	}
	if strings.TrimSpace(line) != target {
		return fmt.Errorf("not confirmed: typed %q, expected %q", strings.TrimSpace(line), target)
	}
	return nil
}

func writeReports(r report.Report, dir string) error {
	var txt, js, svg strings.Builder
	r.WriteText(&txt)
	if err := r.WriteJSON(&js); err != nil {
		return err
	}
	if err := r.WriteSVG(&svg); err != nil {
		return err
	}
	for name, body := range map[string]string{"report.txt": txt.String(), "report.json": js.String(), "report.svg": svg.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func orEmpty(f []dr.Finding) []dr.Finding {
	if f == nil {
		return []dr.Finding{}
	}
	return f
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
