package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/measure"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/report"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// chooseRun returns the locked run to execute: the journal named by
// --resume (fetched from the mirror if this machine has none), else the
// newest unfinished run of the same kind and target (unless --new); a
// resumed run must still match the world (CheckResume). A new run is
// checked against the writer, confirmed, then created.
func (v *inv) chooseRun(ctx context.Context, c *dr.Controller, p plan.Plan, kind string, m runlog.Mirror) (*runlog.Run, error) {
	run, err := v.findRun(ctx, kind, m)
	if err != nil {
		return nil, err
	}
	if run != nil {
		if err := c.CheckResume(ctx, p, run); err != nil {
			run.Close()
			return nil, usageError{"not resuming: " + err.Error()}
		}
		fmt.Fprintf(v.d.Stdout, "resuming run %s\n%s", run.ID, plan.Summary(run))
	} else {
		check := c.CheckTarget
		if kind == "rejoin" {
			check = c.CheckRejoin
		}
		if err := check(ctx, v.o.To); err != nil {
			if errors.Is(err, dr.ErrNothingToDo) || errors.Is(err, dr.ErrRejoinWriter) {
				return nil, usageError{err.Error()}
			}
			return nil, err
		}
		if !v.o.Yes {
			what := kind + " of " + v.cfg.Environment + ": the writer moves to " + v.o.To
			if p.Summary != "" {
				what = p.Summary
			}
			if err := v.confirm(what, v.o.To); err != nil {
				return nil, err
			}
		}
		now := v.d.Now()
		run, err = runlog.Create(v.o.ReportDir, runlog.Run{ID: runlog.NewID(kind, v.o.To, now), Kind: kind, Target: v.o.To, Env: v.cfg.Environment, Created: now.UTC()})
		if err != nil {
			return nil, err
		}
	}
	if m != nil {
		run.SetMirror(m, func(err error) { fmt.Fprintf(v.d.Stderr, "drctl: warning: %v\n", err) })
		if err := run.Save(); err != nil {
			run.Close()
			return nil, err
		}
	}
	return run, nil
}

// findRun opens (and locks) the run to resume, or returns nil.
func (v *inv) findRun(ctx context.Context, kind string, m runlog.Mirror) (*runlog.Run, error) {
	if v.o.Resume != "" {
		run, err := runlog.OpenOrFetch(ctx, v.o.ReportDir, v.o.Resume, m)
		if err != nil {
			return nil, err
		}
		switch {
		case run.Kind != kind || run.Target != v.o.To || run.Env != v.cfg.Environment:
			run.Close()
			return nil, badUsage("run %s is a %s to %s in %s, not a %s to %s in %s", run.ID, run.Kind, run.Target, run.Env, kind, v.o.To, v.cfg.Environment)
		case run.Completed:
			run.Close()
			return nil, badUsage("run %s is already complete; start a new one without --resume", run.ID)
		}
		return run, nil
	}
	unfinished, err := runlog.Unfinished(v.o.ReportDir, v.cfg.Environment)
	if err != nil {
		fmt.Fprintf(v.d.Stderr, "drctl: warning: %v\n", err)
	}
	var match *runlog.Run
	for _, r := range unfinished {
		if r.Kind == kind && r.Target == v.o.To {
			match = r
			continue
		}
		fmt.Fprintf(v.d.Stderr, "drctl: note: unfinished %s to %s: %s (resume it with drctl %s --resume %s)\n", r.Kind, r.Target, r.ID, r.Kind, r.ID)
	}
	if match == nil || v.o.New {
		return nil, nil
	}
	fmt.Fprintf(v.d.Stdout, "found unfinished run %s (use --new to start a fresh run)\n", match.ID)
	return runlog.Open(v.o.ReportDir, match.ID)
}

// confirm asks the operator to type want (a Region name).
func (v *inv) confirm(what, want string) error {
	fmt.Fprintf(v.d.Stdout, "%s. Type the Region name to continue: ", what)
	line, err := bufio.NewReader(v.d.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("not confirmed (no input; use --yes for unattended runs)")
	}
	if strings.TrimSpace(line) != want {
		return fmt.Errorf("not confirmed: typed %q, expected %q", strings.TrimSpace(line), want)
	}
	return nil
}

// report writes report.{txt,json,svg} next to the journal and prints it.
func (v *inv) report(run *runlog.Run, drill *dr.DrillResult) error {
	obj := report.Objectives{RTO: time.Duration(v.cfg.Objectives.RTOSeconds) * time.Second, RPO: time.Duration(v.cfg.Objectives.RPOSeconds) * time.Second}
	var result *measure.Result
	var samples []measure.Sample
	if drill != nil {
		result, samples = &drill.Result, drill.Samples
	}
	rep := report.Build(run, obj, result, samples)
	rep.ListValues = dr.ListValueKeys
	if err := writeReports(rep, run.Dir()); err != nil {
		return err
	}
	fmt.Fprintln(v.d.Stdout)
	rep.WriteText(v.d.Stdout)
	fmt.Fprintf(v.d.Stdout, "report: %s/report.{txt,json,svg}\n", run.Dir())
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
