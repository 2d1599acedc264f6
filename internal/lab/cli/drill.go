package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
)

// drillLab is everything the drill does to the lab: its control API and
// the programs run against it. realLab (drill_lab.go) is the lab; the
// driver's tests use a fake.
type drillLab interface {
	Status(ctx context.Context) (labapi.Status, error)
	Fault(ctx context.Context, req labapi.FaultRequest) error
	// StartLoad sends payments at the drill's rate through the failover
	// URL, or with region set to that Region's API directly (a client
	// inside it); acknowledgements appended to ackFile. A oneShot client
	// sends each key once and records every answer.
	StartLoad(ctx context.Context, ackFile, region string, oneShot bool) (loadRun, error)
	// Drctl runs drctl's subcommand against the lab and returns what it
	// printed. StartDrctl starts one, its output going to the drill's,
	// and returns a wait for its exit; ending ctx kills it.
	Drctl(ctx context.Context, sub string, args ...string) ([]byte, error)
	StartDrctl(ctx context.Context, sub string, args ...string) (wait func() error, err error)
	// ActionJournal is the journal the lab's Region switch kept of an
	// execution's custom actions (runlog.ErrNotFound when none).
	ActionJournal(ctx context.Context, runID string) (*runlog.Run, error)
	// Verify checks the acks against the current writer's database.
	Verify(ctx context.Context, list []acks.Ack, lost map[string]bool) (verify.Report, error)
}

// loadRun is a load in progress.
type loadRun interface {
	Acked() int64 // acknowledgements so far
	Stop() error  // no new payment; waits for the retries of those in flight
}

// scenario is one line of the drill's summary.
type scenario struct {
	Name string        `json:"name"`
	RTO  time.Duration `json:"rtoNs"`
	// An automatic case (no drctl move): the plan's execution, how long
	// after the fault its trigger started it, and what its custom
	// actions' journal recorded (lag at failover, payments replayed from
	// the payment journal). It has no drctl RPO.
	Automatic     bool          `json:"automatic,omitempty"`
	Execution     string        `json:"execution,omitempty"`
	TriggerAfter  time.Duration `json:"triggerAfterNs,omitempty"`
	LagAtFailover string        `json:"lagAtFailover,omitempty"`
	Replayed      string        `json:"replayedFromJournal,omitempty"`
	RPO           time.Duration `json:"rpoNs"`
	LostCanaries  int           `json:"lostCanaries"`
	Floor         time.Duration `json:"detectionFloorNs"`
	Acked         int           `json:"acked"`
	Lost          int           `json:"lost"`
	Missing       int           `json:"missingUnlisted"`
	DoubleCharged int           `json:"doubleCharged"`
	Unbalanced    int           `json:"unbalanced"`
	// Before the old writer's Region returns (cases that lose it): the
	// acknowledged payments the new writer lacks then, and those the old
	// Region acknowledged after it was cut off (and of them, missing).
	BeforeReturn        bool `json:"verifiedBeforeOldRegionReturns"`
	MissingBeforeReturn int  `json:"missingBeforeOldRegionReturns"`
	IsolatedAcked       int  `json:"ackedByIsolatedRegion"`
	IsolatedMissing     int  `json:"ackedByIsolatedRegionAndMissing"`
	// After drctl reconcile --apply (unplanned failover only).
	Named                 int `json:"namedByReconcile"`
	Reapplied             int `json:"reapplied"`
	Conflicts             int `json:"conflicts"`
	MissingAfterReconcile int `json:"missingAfterReconcile"`
	// The checker's counts over every client's answers: keys refused
	// ("not applied") at every attempt, of them present in a database
	// (phantoms), and acknowledged keys without their committed claim.
	Refused   int `json:"refused"`
	Phantoms  int `json:"phantoms"`
	Unclaimed int `json:"unclaimed"`
	// ReturnedAcked: what a returning old writer acknowledged to a client
	// inside it (probeReturned); Rejoin: how long drctl rejoin took.
	ReturnedProbed bool          `json:"returnedProbed"`
	ReturnedAcked  int           `json:"ackedByReturnedOldWriter"`
	Rejoin         time.Duration `json:"rejoinNs,omitempty"`
	Reports        []string      `json:"reports"`
	OK             bool          `json:"ok"`
}

// driver runs cases against a lab and keeps their results.
type driver struct {
	lab     drillLab
	out     string // reports, ack files and the summary
	w       io.Writer
	rate    int
	floor   time.Duration
	cutOff  time.Time // when the case's region-down or partition cut the old writer's Region off
	reports string    // the running case's report directory
	// What the running case's Recover did: ack files of its clients inside
	// a returned Region and what they acknowledged, drctl rejoin's time.
	probes         []string
	returnedAcked  int
	returnedProbed bool
	rejoinTook     time.Duration
	// auto is what an automatic case measured (no drctl report does).
	auto    automaticRun
	poll    time.Duration // how often a condition is checked
	timeout time.Duration // how long a condition may take
	results []scenario
}

func cmdDrill(ctx context.Context, args []string, out io.Writer) error {
	var config, dir, outDir string
	var rate int
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.StringVar(&outDir, "out", "dr-drill", "where reports, ack files and the summary go")
	fs.StringVar(&config, "config", "config/dev.json", "environment configuration")
	fs.IntVar(&rate, "rate", 100, "payments per second during each scenario")
	dyn := fs.String("dynalite", "", "dynalite (default: from PATH or tools/node_modules/.bin)")
	templates := fs.String("templates", "cdk.out", "the templates make synth wrote (the lab runs their Region switch plan)")
	only := fs.String("only", "", "run only the cases whose name contains this text (each case expects the writer where the case before it left it)")
	if _, err := flags(fs, args, &dir, false); err != nil {
		return err
	}
	if rate < 1 || rate > 1000 {
		return badUsage("--rate %d: want 1 to 1000", rate)
	}
	lab, err := newRealLab(dir, config, rate, out)
	if err != nil {
		return err
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	upArgs := []string{"--dir", dir, "--config", config, "--templates", *templates}
	if *dyn != "" {
		upArgs = append(upArgs, "--dynalite", *dyn)
	}
	if err := cmdUp(ctx, upArgs, out); err != nil {
		return err
	}
	defer func() {
		stopped, _ := stopLab(dir)
		fmt.Fprintf(out, "lab down (%s); drill took %.1fs\n", strings.Join(stopped, ", "), time.Since(start).Seconds())
	}()
	st, err := labdir.Dir(dir).ReadState()
	if err != nil {
		return err
	}
	lab.client = &labapi.Client{Addr: st.Control}
	d := &driver{lab: lab, out: outDir, w: out, rate: rate, poll: 100 * time.Millisecond, timeout: 2 * time.Minute}
	cases := standardCases(st.Primary, st.Secondary)
	if *only != "" {
		cases = slices.DeleteFunc(cases, func(c Case) bool { return !strings.Contains(c.Name, *only) })
		if len(cases) == 0 {
			return badUsage("--only %q names no case", *only)
		}
	}
	err = d.run(ctx, cases)
	return errors.Join(err, d.summary())
}

// run runs the cases in order and stops at the first that fails.
func (d *driver) run(ctx context.Context, cases []Case) error {
	status, err := d.lab.Status(ctx)
	if err != nil {
		return err
	}
	d.floor = time.Duration(status.FloorMs) * time.Millisecond
	for _, c := range cases {
		if err := d.runCase(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// runCase: the lab settled, load, the case's faults around drctl drill,
// the load ended, then verify (and reconcile where data may be lost).
func (d *driver) runCase(ctx context.Context, c Case) error {
	fmt.Fprintf(d.w, "== %s%s\n", c.Name, c.note())
	if err := d.waitSettled(ctx); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	reports, err := d.scenarioDir(c.Name)
	if err != nil {
		return err
	}
	d.cutOff, d.reports, d.probes, d.returnedAcked, d.returnedProbed, d.rejoinTook, d.auto = time.Time{}, reports, nil, 0, false, 0, automaticRun{}
	ackFiles, err := d.loads(ctx, c, reports)
	if err != nil {
		return err
	}
	sc := scenario{Name: c.Name, Floor: d.floor, RTO: d.auto.rto, Automatic: d.auto.execution != ""}
	sc.Execution, sc.TriggerAfter, sc.LagAtFailover, sc.Replayed = d.auto.execution, d.auto.trigger, d.auto.lag, d.auto.replayed
	if c.Reconcile != "" {
		if err := d.beforeReturn(ctx, &sc, c.Reconcile, ackFiles); err != nil {
			return err
		}
	}
	if c.Recover != nil {
		if err := c.Recover(ctx, d); err != nil {
			return err
		}
	}
	ackFiles = append(ackFiles, d.probes...)
	sc.ReturnedProbed, sc.ReturnedAcked, sc.Rejoin = d.returnedProbed, d.returnedAcked, d.rejoinTook
	if c.Reconcile == "" {
		return d.finish(ctx, &sc, reports, ackFiles, nil)
	}
	lost, err := d.reconcile(ctx, c.Reconcile, reports)
	if err != nil {
		return err
	}
	if err := d.finish(ctx, &sc, reports, ackFiles, lost); err != nil {
		return err
	}
	return d.reapply(ctx, c.Reconcile, reports, ackFiles)
}

// loads runs the case's load through the failover URL, and its client
// inside a Region when it has one, around the move; it returns their ack
// files once both ended.
func (d *driver) loads(ctx context.Context, c Case, reports string) ([]string, error) {
	ackFiles := []string{filepath.Join(reports, "acks.jsonl"), filepath.Join(reports, "answers-one-shot.jsonl")}
	ld, err := d.lab.StartLoad(ctx, ackFiles[0], "", false)
	if err != nil {
		return nil, err
	}
	// Beside the retrying clients, one that never retries: only its
	// answers can show a "not applied" that was not true.
	others := []loadRun{}
	oneShot, err := d.lab.StartLoad(ctx, ackFiles[1], "", true)
	if err != nil {
		return nil, errors.Join(err, ld.Stop())
	}
	others = append(others, oneShot)
	if c.Inside != "" {
		ackFiles = append(ackFiles, filepath.Join(reports, "acks-inside-"+c.Inside+".jsonl"))
		inside, err := d.lab.StartLoad(ctx, ackFiles[2], c.Inside, false)
		if err != nil {
			return nil, errors.Join(err, ld.Stop(), oneShot.Stop())
		}
		others = append(others, inside)
	}
	err = d.underLoad(ctx, c, ld, reports)
	if lerr := ld.Stop(); err == nil {
		err = lerr
	}
	for _, o := range others {
		if lerr := o.Stop(); err == nil {
			err = lerr
		}
	}
	return ackFiles, err
}

// underLoad: warm-up, Inject, the move (During inside it), then load
// acknowledged by the new writer.
func (d *driver) underLoad(ctx context.Context, c Case, ld loadRun, reports string) error {
	if err := d.waitAcked(ctx, ld, d.loadFor(c.Warmup)); err != nil {
		return err
	}
	if c.Inject != nil {
		if err := c.Inject(ctx, d); err != nil {
			return err
		}
	}
	if err := d.move(ctx, c, reports); err != nil {
		return err
	}
	return d.waitAcked(ctx, ld, ld.Acked()+d.loadFor(2*time.Second))
}

// loadFor is how many acknowledgements span t at the drill's rate.
func (d *driver) loadFor(t time.Duration) int64 { return int64(t.Seconds() * float64(d.rate)) }

// move runs drctl drill to the case's target; During is applied once the
// drill's canaries warmed up, so the fault hits a drill in progress. A
// drill left behind by a failure is killed.
func (d *driver) move(ctx context.Context, c Case, reports string) error {
	if c.Automatic {
		return d.automatic(ctx, c)
	}
	args := []string{"--to", c.Target, "--yes", "--interval", "200ms", "--report-dir", reports}
	if c.Unplanned {
		args = append([]string{"--unplanned"}, args...)
	}
	dctx, kill := context.WithCancel(ctx)
	defer kill()
	wait, err := d.lab.StartDrctl(dctx, "drill", args...)
	if err != nil {
		return err
	}
	if c.During != nil {
		// One more than drctl's warm-up needs (5), so the fault cannot
		// land before drctl counted its warm-up complete.
		err = d.waitCanaries(ctx, reports, 6)
		if err == nil {
			err = c.During(ctx, d)
		}
		if err != nil {
			kill()
			_ = wait()
			return err
		}
	}
	return wait()
}

func (d *driver) fault(ctx context.Context, kind string, args ...string) error {
	fmt.Fprintf(d.w, "   fault %s %s at %s\n", kind, strings.Join(args, " "), time.Now().UTC().Format("15:04:05.000"))
	if kind == labapi.RegionDown || kind == labapi.Partition {
		d.cutOff = time.Now()
	}
	return d.lab.Fault(ctx, labapi.FaultRequest{Kind: kind, Args: args})
}

// reconcile lists what only the old writer held (drctl reconcile --json).
func (d *driver) reconcile(ctx context.Context, oldWriter, reports string) (map[string]bool, error) {
	rec, err := d.lab.Drctl(ctx, "reconcile", "--from", oldWriter, "--json")
	if err != nil {
		return nil, fmt.Errorf("drctl reconcile --from %s: %w", oldWriter, err)
	}
	if err := os.WriteFile(filepath.Join(reports, "reconcile.json"), rec, 0o644); err != nil {
		return nil, err
	}
	lost, err := acks.ParseLost(rec)
	if err != nil {
		return nil, fmt.Errorf("drctl reconcile's report: %w", err)
	}
	return lost, nil
}

// reapply runs drctl reconcile --apply and verifies again, now with no
// lost list: every acknowledged payment must be back in the writer, none
// charged twice.
func (d *driver) reapply(ctx context.Context, oldWriter, reports string, ackFiles []string) error {
	out, err := d.lab.Drctl(ctx, "reconcile", "--from", oldWriter, "--apply", "--yes", "--json")
	if err != nil {
		return fmt.Errorf("drctl reconcile --apply --from %s: %w", oldWriter, err)
	}
	if err := os.WriteFile(filepath.Join(reports, "reconcile-apply.json"), out, 0o644); err != nil {
		return err
	}
	var applied reconcile.Report
	if err := json.Unmarshal(out, &applied); err != nil {
		return fmt.Errorf("drctl reconcile --apply's report: %w", err)
	}
	sc := &d.results[len(d.results)-1]
	sc.Named, sc.Reapplied, sc.Conflicts = len(applied.Items), applied.Count(reconcile.Applied), applied.Count(reconcile.Conflict)
	rep, err := d.verify(ctx, ackFiles, nil)
	if err != nil {
		return err
	}
	sc.MissingAfterReconcile = len(rep.Missing)
	fmt.Fprintf(d.w, "   after reconcile --apply: re-applied %d, conflicts %d; %s", sc.Reapplied, sc.Conflicts, rep.Text())
	if !rep.OK() {
		sc.OK = false
		return fmt.Errorf("after reconcile --apply, verify found violations: %d acknowledged payments still missing", len(rep.Missing))
	}
	return nil
}

// scenarioDir is a fresh directory for one scenario's reports: runs left
// there by an earlier drill would be resumed by drctl or counted as this
// drill's canaries.
func (d *driver) scenarioDir(name string) (string, error) {
	dir := filepath.Join(d.out, slug(name))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

func slug(s string) string {
	return strings.NewReplacer(" -> ", "-to-", " ", "-").Replace(s)
}
