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
	Connect func(ctx context.Context, cfg config.Config, o Options) (dr.Cloud, dr.Canary, error)
	// Poll overrides how often steps re-check AWS (tests); 0 means 5 s.
	Poll time.Duration
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

	kind := cmd
	if cmd == "drill" {
		kind = "drill"
	}
	run, err := openRun(o, kind, cfg, d.Now())
	if err != nil {
		return err
	}
	c := &dr.Controller{Cfg: cfg, Clock: clockFunc(d.Now), Log: d.Stdout, Poll: d.Poll}
	var p plan.Plan
	switch {
	case cmd == "switchover", cmd == "failback", cmd == "drill" && !unplanned:
		p = c.Switchover(o.To)
		if cmd == "failback" {
			p = c.Failback()
		}
	case cmd == "failover":
		p = c.Failover(o.To, allowLoss, run)
	case cmd == "drill" && unplanned:
		p = c.Failover(o.To, true, run)
	}
	if o.DryRun && p.Kind != "" {
		fmt.Fprintf(d.Stdout, "dry run of %s in %s (nothing is changed)\n", cmd, cfg.Environment)
		if cmd == "drill" {
			fmt.Fprintf(d.Stdout, "canaries: POST https://%s/payments every %s (before, during and after the plan), then GET https://%s/payments/{id} for each acknowledged before the writer moves\n",
				apiHost(cfg), interval, regionalHost(cfg, o.To))
		}
		p.Print(d.Stdout)
		return nil
	}

	cloud, canary, err := d.Connect(ctx, cfg, o)
	if err != nil {
		return err
	}
	c.Cloud = cloud
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
			fmt.Fprintln(d.Stdout, toJSON(map[string]any{"ready": len(findings) == 0, "findings": findings}))
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

	if !o.Yes {
		if err := confirm(d, cmd, o.To, cfg); err != nil {
			return err
		}
	}
	run, err = persist(run, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "run %s (journal %s)\n", run.ID, filepath.Join(run.Dir(), "journal.json"))
	var drill *dr.DrillResult
	var runErr error
	if cmd == "drill" {
		res, err := c.Drill(ctx, canary, p, run, dr.DrillOptions{Interval: interval})
		drill, runErr = &res, err
	} else {
		runErr = plan.Execute(ctx, p, run, c.Clock, d.Stdout)
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
		return fmt.Errorf("%w (resume with: drctl %s --resume %s)", runErr, cmd, run.ID)
	}
	return nil
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// openRun returns the run to execute: a new one, or the journal named by
// --resume, which must be of the same kind and target.
func openRun(o Options, kind string, cfg config.Config, now time.Time) (*journal.Run, error) {
	if o.Resume == "" {
		return &journal.Run{ID: journal.NewID(kind, o.To, now), Kind: kind, Target: o.To, Env: cfg.Environment, Created: now.UTC(), Values: map[string]string{}}, nil
	}
	run, err := journal.Open(o.ReportDir, o.Resume)
	if err != nil {
		return nil, err
	}
	if run.Kind != kind || run.Target != o.To || run.Env != cfg.Environment {
		return nil, badUsage("run %s is a %s to %s in %s, not a %s to %s in %s", run.ID, run.Kind, run.Target, run.Env, kind, o.To, cfg.Environment)
	}
	return run, nil
}

// persist gives a new run its journal file (a resumed run has one).
func persist(run *journal.Run, o Options) (*journal.Run, error) {
	if o.Resume != "" {
		return run, nil
	}
	return journal.Create(o.ReportDir, *run)
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

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
