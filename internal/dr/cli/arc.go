package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/dr/report"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Who executes a move (--via).
const (
	ViaDrctl = "drctl" // drctl runs the plan's steps itself (journal, resume)
	ViaARC   = "arc"   // ARC Region switch executes the plan; drctl starts and follows it
)

// arcPoll is how often a followed execution is read: ARC's steps take
// seconds to minutes, and GetPlanExecution is a data-plane read.
const arcPoll = time.Second

// maxComment is ARC's limit on a comment (ARC API Reference,
// ApprovePlanExecutionStep.comment: 0 to 1024 characters).
const maxComment = 1024

func viaFlag(fs *flag.FlagSet, v *inv) {
	fs.StringVar(&v.o.Via, "via", ViaDrctl, "who executes the move: drctl (its own steps) or arc (start the ARC Region switch plan and follow it)")
}

// checkVia validates --via and what an ARC execution does not take:
// drctl's journal flags (ARC keeps the execution; the custom actions keep
// their own journal) and --replay-from (the plan's replay step decides).
func checkVia(v *inv) error {
	switch v.o.Via {
	case ViaDrctl:
		return nil
	case ViaARC:
	default:
		return badUsage("--via %q: want %s or %s", v.o.Via, ViaDrctl, ViaARC)
	}
	switch {
	case v.o.Resume != "" || v.o.New:
		return badUsage("--via arc: ARC keeps the execution; --resume and --new apply to drctl's own runs")
	case v.replayFrom != "":
		return badUsage("--via arc: --replay-from applies to drctl's own failover; the plan's replay step reads the new writer's database")
	}
	return nil
}

// arcStart is what a --via arc command asks ARC for.
type arcStart struct {
	kind, action, mode string
	region             string // the execution's target Region
}

// arcMove starts the plan's execution and follows it to its end; it
// fails unless the execution completed.
func (v *inv) arcMove(ctx context.Context, s arcStart) error {
	if v.o.DryRun {
		fmt.Fprintf(v.d.Stdout, "dry run of %s in %s through ARC Region switch (nothing is changed)\nwould call StartPlanExecution planArn=<plan %s> targetRegion=%s action=%s mode=%s latestVersion=true\n",
			s.kind, v.cfg.Environment, v.planName(), s.region, s.action, s.mode)
		return nil
	}
	conn, svc, err := v.arcConnect(ctx)
	if err != nil {
		return err
	}
	planArn, err := svc.PlanARN(ctx, v.planName())
	if err != nil {
		return err
	}
	if !v.o.Yes {
		what := fmt.Sprintf("%s of %s through ARC Region switch (%s %s, execution in %s)", s.kind, v.cfg.Environment, s.action, s.mode, s.region)
		if err := v.confirm(what, v.o.To); err != nil {
			return err
		}
	}
	e, err := svc.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: s.region, Action: s.action, Mode: s.mode, Comment: "drctl " + s.kind})
	if err != nil {
		return err
	}
	fmt.Fprintf(v.d.Stdout, "started ARC execution %s (%s, %s) in %s\n", e.ID, s.action, s.mode, s.region)
	return v.follow(ctx, conn, svc, planArn, e.ID)
}

func (v *inv) planName() string {
	return naming.New(v.cfg.Environment, v.cfg.DomainName).RegionSwitchPlan()
}

// arcConnect connects and returns the connection's execution API.
func (v *inv) arcConnect(ctx context.Context) (Conn, arcexec.Service, error) {
	conn, err := v.connect(ctx)
	if err != nil {
		return Conn{}, nil, err
	}
	if conn.ARC == nil {
		return Conn{}, nil, errors.New("this connection has no ARC Region switch execution API")
	}
	return conn, conn.ARC, nil
}

// follow polls the execution until it finishes, printing each step's
// status change and, once, the command that approves a pending step;
// then the custom actions' journal.
func (v *inv) follow(ctx context.Context, conn Conn, svc arcexec.Service, planArn, id string) error {
	poll := v.d.Poll
	if poll == 0 {
		poll = arcPoll
	}
	seen := map[string]string{}
	announced := ""
	for {
		e, err := svc.Get(ctx, planArn, id)
		if err != nil {
			return fmt.Errorf("%w\nthe execution goes on in ARC; follow it with drctl status", err)
		}
		v.printChanges(e, seen)
		if step, ok := e.PendingApproval(); ok && e.State == arcexec.StatePendingApproval && announced != step {
			announced = step
			fmt.Fprintf(v.d.Stdout, "step %s waits for approval; to approve run:\n  %s\n", step, v.approveCommand(id))
		}
		if e.Finished() {
			return v.finish(ctx, conn, e)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following execution %s (it goes on in ARC): %w", id, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// printChanges prints the steps whose status changed since seen.
func (v *inv) printChanges(e arcexec.Execution, seen map[string]string) {
	for _, s := range e.Steps {
		if seen[s.Name] == s.Status {
			continue
		}
		seen[s.Name] = s.Status
		fmt.Fprintf(v.d.Stdout, "%s  %-28s %s\n", v.d.Now().UTC().Format("15:04:05"), s.Name, s.Status)
	}
}

// approveCommand is the command line that approves execution id.
func (v *inv) approveCommand(id string) string {
	parts := []string{"drctl", "approve", "--config", v.o.ConfigPath, "--execution", id}
	if v.o.Lab != "" {
		parts = append(parts, "--lab", v.o.Lab)
	}
	if v.o.RoleARN != "" {
		parts = append(parts, "--role-arn", v.o.RoleARN)
	}
	return strings.Join(parts, " ")
}

// finish reports a finished execution: its end, then the values of its
// custom actions' journal, which ARC's report leaves out.
func (v *inv) finish(ctx context.Context, conn Conn, e arcexec.Execution) error {
	took := ""
	if !e.Ended.IsZero() && !e.Started.IsZero() {
		took = ", " + e.Ended.Sub(e.Started).Round(time.Second).String()
	}
	fmt.Fprintf(v.d.Stdout, "execution %s %s%s\n", e.ID, e.State, took)
	v.printActionJournal(ctx, conn.Mirror, e)
	if e.State != arcexec.StateCompleted {
		return fmt.Errorf("ARC execution %s did not complete: %s", e.ID, e.State)
	}
	return nil
}

// printActionJournal prints the drctl journal the custom actions kept for
// execution e, read through the journal mirror, as drctl reports its own
// runs (and writes it under --report-dir). A missing journal is said, not
// an error: the execution's outcome is ARC's.
func (v *inv) printActionJournal(ctx context.Context, m runlog.Mirror, e arcexec.Execution) {
	id := arcexec.RunID(arcplan.Kind(e.Action, e.Mode), e.Started, e.ID)
	if m == nil {
		fmt.Fprintf(v.d.Stdout, "custom actions' journal %s: not read (this connection has no journal mirror)\n", id)
		return
	}
	data, err := m.Get(ctx, id)
	if errors.Is(err, runlog.ErrNotFound) {
		fmt.Fprintf(v.d.Stdout, "custom actions' journal %s: not found (no custom action of this execution ran, or none kept its journal)\n", id)
		return
	}
	var run *runlog.Run
	if err == nil {
		run, err = runlog.Parse(data)
	}
	if err != nil {
		fmt.Fprintf(v.d.Stderr, "drctl: warning: custom actions' journal %s: %v\n", id, err)
		return
	}
	obj := report.Objectives{RTO: time.Duration(v.cfg.Objectives.RTOSeconds) * time.Second, RPO: time.Duration(v.cfg.Objectives.RPOSeconds) * time.Second}
	rep := report.Build(run, obj, nil, nil)
	rep.ListValues = dr.ListValueKeys
	fmt.Fprintf(v.d.Stdout, "\ncustom actions (drctl journal %s):\n", id)
	rep.WriteText(v.d.Stdout)
	dir := filepath.Join(v.o.ReportDir, id)
	if err = os.MkdirAll(dir, 0o755); err == nil {
		err = writeReports(rep, dir)
	}
	if err != nil {
		fmt.Fprintf(v.d.Stderr, "drctl: warning: writing the report of %s: %v\n", id, err)
		return
	}
	fmt.Fprintf(v.d.Stdout, "report: %s/report.{txt,json,svg}\n", dir)
}

var cmdApprove = &Command{
	Name: "approve", UsageLine: "approve [--execution ID] [--decline] [--comment TEXT]",
	Short: "answer the manual approval step of an ARC Region switch execution (the only one pending, or --execution)",
	Flags: func(fs *flag.FlagSet, v *inv) {
		fs.StringVar(&v.execution, "execution", "", "the execution's ID (default: the only execution pending approval)")
		fs.BoolVar(&v.decline, "decline", false, "decline instead of approving (the execution stops)")
		fs.StringVar(&v.comment, "comment", "", "comment recorded with the answer")
	},
	Check: func(v *inv) error {
		if len(v.comment) > maxComment {
			return badUsage("--comment is %d characters; ARC takes at most %d", len(v.comment), maxComment)
		}
		if v.execution != "" && strings.ContainsFunc(v.execution, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return badUsage("--execution %q is not an execution ID (printable ASCII, no spaces)", v.execution)
		}
		return nil
	},
	Run: func(ctx context.Context, v *inv) error { return v.approve(ctx) },
}

// approve answers the pending approval step of the chosen execution.
func (v *inv) approve(ctx context.Context) error {
	_, svc, err := v.arcConnect(ctx)
	if err != nil {
		return err
	}
	planArn, err := svc.PlanARN(ctx, v.planName())
	if err != nil {
		return err
	}
	id := v.execution
	if id == "" {
		if id, err = pendingExecution(ctx, svc, planArn); err != nil {
			return err
		}
	}
	e, err := svc.Get(ctx, planArn, id)
	if err != nil {
		return err
	}
	step, ok := e.PendingApproval()
	if !ok {
		return fmt.Errorf("execution %s has no step pending approval (it is %s)", id, e.State)
	}
	if err := svc.Approve(ctx, planArn, id, step, !v.decline, v.comment); err != nil {
		return err
	}
	answer := "approved"
	if v.decline {
		answer = "declined"
	}
	fmt.Fprintf(v.d.Stdout, "%s step %s of execution %s (%s %s in %s)\n", answer, step, id, e.Action, e.Mode, e.Region)
	return nil
}

// pendingExecution is the ID of the plan's only execution pending
// approval.
func pendingExecution(ctx context.Context, svc arcexec.Service, planArn string) (string, error) {
	list, err := svc.List(ctx, planArn)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, e := range list {
		if e.State == arcexec.StatePendingApproval {
			ids = append(ids, e.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", errors.New("no execution of the plan is pending approval")
	case 1:
		return ids[0], nil
	}
	return "", usageError{fmt.Sprintf("%d executions are pending approval (%s): choose one with --execution", len(ids), strings.Join(ids, ", "))}
}

// writeLatestExecution adds the plan's latest execution to drctl status.
// A failure to read it is a warning line: the status is about the
// database and the DNS, which were read.
func (v *inv) writeLatestExecution(ctx context.Context, svc arcexec.Service) {
	out := v.d.Stdout
	e, err := latestExecution(ctx, svc, v.planName())
	switch {
	case err != nil:
		fmt.Fprintf(out, "warning: ARC Region switch executions not read: %v\n", err)
	case e == nil:
		fmt.Fprintln(out, "ARC Region switch: no execution of the plan yet")
	default:
		pending := ""
		if step, ok := e.PendingApproval(); ok {
			pending = ", step " + step + " pending approval"
		}
		fmt.Fprintf(out, "ARC Region switch: latest execution %s: %s %s in %s, %s (started %s)%s\n",
			e.ID, e.Action, e.Mode, e.Region, e.State, e.Started.UTC().Format(time.RFC3339), pending)
	}
}

// latestExecution reads the plan's newest execution with its steps, or nil.
func latestExecution(ctx context.Context, svc arcexec.Service, plan string) (*arcexec.Execution, error) {
	planArn, err := svc.PlanARN(ctx, plan)
	if err != nil {
		return nil, err
	}
	list, err := svc.List(ctx, planArn)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	e, err := svc.Get(ctx, planArn, list[0].ID)
	if err != nil {
		return nil, err
	}
	return &e, nil
}
