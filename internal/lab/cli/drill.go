package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/load"
)

// drillRun is the state of `drlab drill` (make drill): the lab, drctl
// beside drlab, the output directory.
type drillRun struct {
	dir, out, drctl, config string
	rate                    int
	floor                   time.Duration
	client                  *labapi.Client
	w                       io.Writer
	results                 []scenario
}

// scenario is one line of the drill's summary.
type scenario struct {
	Name          string        `json:"name"`
	RTO           time.Duration `json:"rtoNs"`
	RPO           time.Duration `json:"rpoNs"`
	LostCanaries  int           `json:"lostCanaries"`
	Floor         time.Duration `json:"detectionFloorNs"`
	Acked         int           `json:"acked"`
	Lost          int           `json:"lost"`
	Missing       int           `json:"missingUnlisted"`
	DoubleCharged int           `json:"doubleCharged"`
	Unbalanced    int           `json:"unbalanced"`
	// After drctl reconcile --apply (unplanned failover only).
	Named                 int      `json:"namedByReconcile"`
	Reapplied             int      `json:"reapplied"`
	Conflicts             int      `json:"conflicts"`
	MissingAfterReconcile int      `json:"missingAfterReconcile"`
	Reports               []string `json:"reports"`
	OK                    bool     `json:"ok"`
}

func cmdDrill(ctx context.Context, args []string, out io.Writer) error {
	var r drillRun
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.StringVar(&r.out, "out", "dr-drill", "where reports, ack files and the summary go")
	fs.StringVar(&r.config, "config", "config/dev.json", "environment configuration")
	fs.IntVar(&r.rate, "rate", 100, "payments per second during each scenario")
	dyn := fs.String("dynalite", "", "dynalite (default: from PATH or tools/node_modules/.bin)")
	if _, err := flags(fs, args, &r.dir, false); err != nil {
		return err
	}
	if r.rate < 1 || r.rate > 1000 {
		return badUsage("--rate %d: want 1 to 1000", r.rate)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r.drctl, r.w = filepath.Join(filepath.Dir(self), "drctl"), out
	if _, err := os.Stat(r.drctl); err != nil {
		return fmt.Errorf("drctl not found beside drlab (%s): build it (go build -o %s ./cmd/drctl)", r.drctl, r.drctl)
	}
	if r.out, err = filepath.Abs(r.out); err != nil {
		return err
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	upArgs := []string{"--dir", r.dir, "--config", r.config}
	if *dyn != "" {
		upArgs = append(upArgs, "--dynalite", *dyn)
	}
	if err := cmdUp(ctx, upArgs, out); err != nil {
		return err
	}
	defer func() {
		stopped, _ := stopLab(r.dir)
		fmt.Fprintf(out, "lab down (%s); drill took %.1fs\n", strings.Join(stopped, ", "), time.Since(start).Seconds())
	}()
	st, err := labdir.Dir(r.dir).ReadState()
	if err != nil {
		return err
	}
	r.client = &labapi.Client{Addr: st.Control}
	r.floor = time.Duration(st.Options.FailureThreshold)*time.Duration(st.Options.CheckIntervalMs)*time.Millisecond +
		time.Duration(st.Options.TTLMs)*time.Millisecond
	err = r.scenarios(ctx, st)
	r.summary()
	return err
}

func (r *drillRun) scenarios(ctx context.Context, st labdir.State) error {
	p, s := st.Primary, st.Secondary
	if err := r.planned(ctx, "planned switchover "+p+" -> "+s, s); err != nil {
		return err
	}
	if err := r.planned(ctx, "planned switchover "+s+" -> "+p, p); err != nil {
		return err
	}
	if err := r.unplanned(ctx, p, s); err != nil {
		return err
	}
	return r.failback(ctx, p, s)
}

// planned: load, drctl drill to target, verify.
func (r *drillRun) planned(ctx context.Context, name, target string) error {
	fmt.Fprintf(r.w, "== %s\n", name)
	sc := scenario{Name: name, Floor: r.floor}
	reports, err := r.scenarioDir(name)
	if err != nil {
		return err
	}
	ackFile := filepath.Join(reports, "acks.jsonl")
	stop, err := r.startLoad(ctx, ackFile, 3*time.Second)
	if err != nil {
		return err
	}
	derr := r.run(ctx, r.drctl, "drill", "--lab", r.dir, "--config", r.config, "--to", target, "--yes", "--interval", "200ms", "--report-dir", reports)
	if lerr := stop(); derr == nil {
		derr = lerr
	}
	if derr != nil {
		return derr
	}
	return r.finish(ctx, &sc, reports, ackFile, nil)
}

// unplanned: load, replication stalled, drctl drill --unplanned, the
// writer's Region lost as soon as the drill's canaries warmed up, the
// Region back (resynchronised, its data kept), drctl reconcile's lost
// list checked by verify.
func (r *drillRun) unplanned(ctx context.Context, oldWriter, target string) error {
	name := "unplanned failover " + oldWriter + " -> " + target
	fmt.Fprintf(r.w, "== %s (replication stalled, then region-down %s)\n", name, oldWriter)
	sc := scenario{Name: name, Floor: r.floor}
	reports, err := r.scenarioDir(name)
	if err != nil {
		return err
	}
	ackFile := filepath.Join(reports, "acks.jsonl")
	stop, err := r.startLoad(ctx, ackFile, 2*time.Second)
	if err != nil {
		return err
	}
	if err := r.fault(ctx, "replication-stall"); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	drill := exec.CommandContext(ctx, r.drctl, "drill", "--unplanned", "--lab", r.dir, "--config", r.config, "--to", target,
		"--yes", "--interval", "200ms", "--report-dir", reports)
	drill.Stdout, drill.Stderr = r.w, r.w
	if err := drill.Start(); err != nil {
		return err
	}
	if err := waitCanaries(ctx, reports, 5); err != nil {
		_ = drill.Process.Kill()
		return err
	}
	if err := r.fault(ctx, "region-down", oldWriter); err != nil {
		return err
	}
	derr := drill.Wait()
	if lerr := stop(); derr == nil {
		derr = lerr
	}
	if derr != nil {
		return fmt.Errorf("drctl drill --unplanned: %w", derr)
	}
	if err := r.fault(ctx, "region-up", oldWriter); err != nil {
		return err
	}
	lostFile := filepath.Join(reports, "reconcile.json")
	rec, err := r.output(ctx, r.drctl, "reconcile", "--lab", r.dir, "--config", r.config, "--from", oldWriter, "--json")
	if err != nil {
		return fmt.Errorf("drctl reconcile --from %s: %w", oldWriter, err)
	}
	if err := os.WriteFile(lostFile, rec, 0o644); err != nil {
		return err
	}
	lost, err := acks.ParseLost(rec)
	if err != nil {
		return fmt.Errorf("drctl reconcile's report: %w", err)
	}
	if err := r.finish(ctx, &sc, reports, ackFile, lost); err != nil {
		return err
	}
	return r.reapply(ctx, oldWriter, reports, ackFile)
}

// reapply runs drctl reconcile --apply and verifies again, now with no
// lost list: every acknowledged payment must be back in the writer, none
// charged twice.
func (r *drillRun) reapply(ctx context.Context, oldWriter, reports, ackFile string) error {
	out, err := r.output(ctx, r.drctl, "reconcile", "--lab", r.dir, "--config", r.config, "--from", oldWriter, "--apply", "--yes", "--json")
	if err != nil {
		return fmt.Errorf("drctl reconcile --apply --from %s: %w", oldWriter, err)
	}
	if err := os.WriteFile(filepath.Join(reports, "reconcile-apply.json"), out, 0o644); err != nil {
		return err
	}
	var applied struct {
		Items []struct {
			Outcome string `json:"outcome"`
		} `json:"items"`
	}
	if err := json.Unmarshal(out, &applied); err != nil {
		return fmt.Errorf("drctl reconcile --apply's report: %w", err)
	}
	sc := &r.results[len(r.results)-1]
	sc.Named = len(applied.Items)
	for _, it := range applied.Items {
		switch it.Outcome {
		case "applied":
			sc.Reapplied++
		case "conflict":
			sc.Conflicts++
		}
	}
	list, err := acks.ParseFile(ackFile)
	if err != nil {
		return err
	}
	rep, _, err := verifyWriter(ctx, r.dir, list, nil)
	if err != nil {
		return err
	}
	sc.MissingAfterReconcile = len(rep.Missing)
	fmt.Fprintf(r.w, "   after reconcile --apply: re-applied %d, conflicts %d; %s", sc.Reapplied, sc.Conflicts, rep.Text())
	if !rep.OK() {
		sc.OK = false
		return fmt.Errorf("after reconcile --apply, verify found violations: %d acknowledged payments still missing", len(rep.Missing))
	}
	return nil
}

// failback: once the old primary's Region was resynchronised, the same
// measured switchover back to it (drctl drill --to primary, so RTO is
// measured; plain drctl failback is covered by the e2e tests).
func (r *drillRun) failback(ctx context.Context, primary, from string) error {
	return r.planned(ctx, "failback "+from+" -> "+primary, primary)
}

// startLoad runs the load in the background; stop waits until lead has
// passed after it was called, then ends the load and waits for retries.
func (r *drillRun) startLoad(ctx context.Context, file string, lead time.Duration) (stop func() error, err error) {
	lab, err := labdir.Dir(r.dir).ReadLab()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	stopLoad := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		res, err := load.Run(ctx, load.Options{URL: lab.FailoverURL, APIKey: lab.APIKey, Rate: r.rate, Duration: time.Hour,
			Out: f, Grace: 30 * time.Second, Stop: stopLoad})
		fmt.Fprintf(r.w, "   load: %d acknowledged, %d retries, %d given up\n", res.Acked, res.Retries, res.GaveUp)
		done <- errors.Join(err, f.Close())
	}()
	time.Sleep(lead)
	return func() error {
		time.Sleep(2 * time.Second)
		close(stopLoad)
		return <-done
	}, nil
}

// finish verifies the scenario's acks and reads drctl's report.
func (r *drillRun) finish(ctx context.Context, sc *scenario, reports, ackFile string, lost map[string]bool) error {
	list, err := acks.ParseFile(ackFile)
	if err != nil {
		return err
	}
	rep, _, err := verifyWriter(ctx, r.dir, list, lost)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(reports, "verify.json"), b, 0o644); err != nil {
		return err
	}
	sc.Acked, sc.Lost, sc.Missing = rep.Acked, rep.Lost, len(rep.Missing)
	sc.DoubleCharged, sc.Unbalanced = len(rep.DoubleCharged), len(rep.Unbalanced)+len(rep.CurrencyImbalance)
	sc.OK = rep.OK()
	files, _ := filepath.Glob(filepath.Join(reports, "*", "report.json"))
	for _, file := range files {
		var dr struct {
			Drill struct {
				RTO  time.Duration `json:"rtoNs"`
				RPO  time.Duration `json:"rpoNs"`
				Lost []any         `json:"lost"`
			} `json:"drill"`
		}
		if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &dr) == nil {
			sc.RTO, sc.RPO, sc.LostCanaries = dr.Drill.RTO, dr.Drill.RPO, len(dr.Drill.Lost)
		}
		base := strings.TrimSuffix(file, ".json")
		sc.Reports = append(sc.Reports, base+".txt", file, base+".svg")
	}
	r.results = append(r.results, *sc)
	fmt.Fprintf(r.w, "   %s", rep.Text())
	if !sc.OK {
		return fmt.Errorf("%s: verify found violations (see %s)", sc.Name, filepath.Join(reports, "verify.json"))
	}
	return nil
}

func (r *drillRun) summary() {
	var b strings.Builder
	fmt.Fprintf(&b, "\nDR drill summary (detection floor = check interval x threshold + TTL = %s)\n", r.floor)
	fmt.Fprintf(&b, "%-42s %9s %20s %7s %8s %6s %8s %7s %11s\n", "SCENARIO", "RTO", "RPO", "FLOOR", "ACKED", "LOST", "MISSING", "DOUBLE", "UNBALANCED")
	for _, s := range r.results {
		rpo := s.RPO.Round(time.Millisecond).String()
		if s.LostCanaries > 0 {
			rpo += fmt.Sprintf(" (%d canaries)", s.LostCanaries)
		}
		fmt.Fprintf(&b, "%-42s %9s %20s %7s %8d %6d %8d %7d %11d\n", s.Name, s.RTO.Round(time.Millisecond), rpo,
			s.Floor, s.Acked, s.Lost, s.Missing, s.DoubleCharged, s.Unbalanced)
	}
	for _, s := range r.results {
		if s.Lost > 0 {
			fmt.Fprintf(&b, "%s: drctl reconcile named %d payments only the old primary held (%d of them acknowledged to the load, the rest canaries or answers the client never got); re-applied %d, conflicts %d (key retried in the new Region, charged once); acknowledged payments missing afterwards: %d\n",
				s.Name, s.Named, s.Lost, s.Reapplied, s.Conflicts, s.MissingAfterReconcile)
		}
	}
	for _, s := range r.results {
		fmt.Fprintf(&b, "reports of %s:\n  %s\n", s.Name, strings.Join(s.Reports, "\n  "))
	}
	fmt.Fprint(r.w, b.String())
	_ = os.WriteFile(filepath.Join(r.out, "summary.txt"), []byte(b.String()), 0o644)
	j, _ := json.MarshalIndent(r.results, "", "  ")
	_ = os.WriteFile(filepath.Join(r.out, "summary.json"), j, 0o644)
}

func (r *drillRun) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = r.w, r.w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), args[0], err)
	}
	return nil
}

func (r *drillRun) output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = r.w
	return cmd.Output()
}

func (r *drillRun) fault(ctx context.Context, kind string, args ...string) error {
	fmt.Fprintf(r.w, "   fault %s %s at %s\n", kind, strings.Join(args, " "), time.Now().UTC().Format("15:04:05.000"))
	return r.client.Fault(ctx, labapi.FaultRequest{Kind: kind, Args: args})
}

// waitCanaries waits until the drill under reports has n acknowledged
// canary writes (its warm-up), so the fault hits a drill in progress.
func waitCanaries(ctx context.Context, reports string, n int) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(reports, "*", "canaries.jsonl"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Count(string(b), `"ok":true`) >= n {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("the drill's canaries did not warm up within a minute (%s)", reports)
}

// scenarioDir is a fresh directory for one scenario's reports: runs left
// there by an earlier drill would be resumed by drctl or counted as this
// drill's canaries.
func (r *drillRun) scenarioDir(name string) (string, error) {
	dir := filepath.Join(r.out, slug(name))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

func slug(s string) string {
	return strings.NewReplacer(" -> ", "-to-", " ", "-").Replace(s)
}
