package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/report"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
)

// finish verifies the scenario's acks and reads drctl's report.
func (d *driver) finish(ctx context.Context, sc *scenario, reports string, ackFiles []string, lost map[string]bool) error {
	rep, err := d.verify(ctx, ackFiles, lost)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(reports, "verify.json"), b, 0o644); err != nil {
		return err
	}
	sc.Acked, sc.Lost, sc.Missing = rep.Acked, rep.Lost, len(rep.Missing)
	sc.DoubleCharged, sc.Unbalanced = len(rep.DoubleCharged), len(rep.Unbalanced)+len(rep.CurrencyImbalance)
	sc.Refused, sc.Phantoms, sc.Unclaimed = rep.Refused, len(rep.Phantoms), len(rep.Unclaimed)
	sc.OK = rep.OK() && sc.MissingBeforeReturn == 0 && sc.IsolatedMissing == 0 && sc.ReturnedAcked == 0
	if err := sc.readReports(reports); err != nil {
		return err
	}
	d.results = append(d.results, *sc)
	fmt.Fprintf(d.w, "   %s", rep.Text())
	switch {
	case !rep.OK():
		return fmt.Errorf("%s: verify found violations (see %s)", sc.Name, filepath.Join(reports, "verify.json"))
	case sc.ReturnedAcked > 0:
		return fmt.Errorf("%s: the returning old writer acknowledged %d payments after the failover", sc.Name, sc.ReturnedAcked)
	case !sc.OK:
		return fmt.Errorf("%s: %d acknowledged payments were missing from the new writer before the old Region returned (%d of them acknowledged by the isolated Region)",
			sc.Name, sc.MissingBeforeReturn, sc.IsolatedMissing)
	}
	return nil
}

// beforeReturn verifies every acknowledged payment against the new writer
// while the old writer's Region is still lost or cut off: what is missing
// then waits for that Region (the journal's replay must leave nothing).
// It also counts what the old Region acknowledged after it was cut off.
func (d *driver) beforeReturn(ctx context.Context, sc *scenario, oldWriter string, ackFiles []string) error {
	list, err := readAcks(ackFiles)
	if err != nil {
		return err
	}
	rep, err := d.lab.Verify(ctx, list, nil)
	if err != nil {
		return err
	}
	missing := map[string]bool{}
	for _, k := range rep.Missing {
		missing[k] = true
	}
	sc.BeforeReturn, sc.MissingBeforeReturn = true, len(rep.Missing)
	for _, a := range list {
		if a.Acknowledged() && a.Region == oldWriter && !d.cutOff.IsZero() && a.At.After(d.cutOff) {
			sc.IsolatedAcked++
			if missing[a.Key] {
				sc.IsolatedMissing++
			}
		}
	}
	fmt.Fprintf(d.w, "   before %s returns: acknowledged %d, missing from the new writer %d; acknowledged by %s after it was cut off %d (missing %d)\n",
		oldWriter, rep.Acked, sc.MissingBeforeReturn, oldWriter, sc.IsolatedAcked, sc.IsolatedMissing)
	return nil
}

// verify checks the acks in ackFile against the writer.
func (d *driver) verify(ctx context.Context, ackFiles []string, lost map[string]bool) (verify.Report, error) {
	list, err := readAcks(ackFiles)
	if err != nil {
		return verify.Report{}, err
	}
	return d.lab.Verify(ctx, list, lost)
}

// readAcks reads the acknowledgements of every client of a case.
func readAcks(files []string) ([]acks.Ack, error) {
	var list []acks.Ack
	for _, f := range files {
		l, err := acks.ParseFile(f)
		if err != nil {
			return nil, err
		}
		list = append(list, l...)
	}
	return list, nil
}

// readReports takes RTO, RPO and the lost canaries from drctl's
// report.json of each run under reports.
func (sc *scenario) readReports(reports string) error {
	files, err := filepath.Glob(filepath.Join(reports, "*", "report.json"))
	if err != nil {
		return err
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("drctl's report %s: %w", file, err)
		}
		if r.Drill != nil {
			sc.RTO, sc.RPO, sc.LostCanaries = r.Drill.RTO, r.Drill.RPO, len(r.Drill.Lost)
		}
		base := strings.TrimSuffix(file, ".json")
		sc.Reports = append(sc.Reports, base+".txt", file, base+".svg")
	}
	return nil
}

// summary prints the table and writes summary.txt and summary.json.
func (d *driver) summary() error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nDR drill summary (detection floor = check interval x threshold + TTL = %s)\n", d.floor)
	fmt.Fprintf(&b, "%-44s %9s %20s %7s %8s %6s %8s %7s %11s %8s %8s %10s\n", "SCENARIO", "RTO", "RPO", "FLOOR", "ACKED", "LOST", "MISSING",
		"DOUBLE", "UNBALANCED", "REFUSED", "PHANTOM", "UNCLAIMED")
	for _, s := range d.results {
		rpo := s.RPO.Round(time.Millisecond).String()
		if s.Automatic {
			rpo = "- (no drctl)"
		}
		if s.LostCanaries > 0 {
			rpo += fmt.Sprintf(" (%d canaries)", s.LostCanaries)
		}
		fmt.Fprintf(&b, "%-44s %9s %20s %7s %8d %6d %8d %7d %11d %8d %8d %10d\n", s.Name, s.RTO.Round(time.Millisecond), rpo,
			s.Floor, s.Acked, s.Lost, s.Missing, s.DoubleCharged, s.Unbalanced, s.Refused, s.Phantoms, s.Unclaimed)
	}
	for _, s := range d.results {
		if s.ReturnedProbed {
			fmt.Fprintf(&b, "%s: acknowledged by the old writer after it returned unfenced: %d\n", s.Name, s.ReturnedAcked)
		}
		if s.Rejoin > 0 {
			fmt.Fprintf(&b, "%s: drctl rejoin took %s\n", s.Name, s.Rejoin.Round(time.Millisecond))
		}
	}
	for _, s := range d.results {
		if s.Automatic {
			fmt.Fprintf(&b, "%s: ARC execution %s started by its trigger %s after the fault; lag at failover %s, payments replayed from the payment journal %s (the custom actions' journal)\n",
				s.Name, s.Execution, s.TriggerAfter.Round(time.Millisecond), s.LagAtFailover, s.Replayed)
		}
	}
	for _, s := range d.results {
		if s.BeforeReturn {
			fmt.Fprintf(&b, "%s: before the old Region returned: acknowledged payments missing from the new writer %d; acknowledged by the old Region after it was cut off %d, of them missing %d\n",
				s.Name, s.MissingBeforeReturn, s.IsolatedAcked, s.IsolatedMissing)
		}
	}
	for _, s := range d.results {
		if s.Lost > 0 {
			fmt.Fprintf(&b, "%s: drctl reconcile named %d payments only the old primary held (%d of them acknowledged to the load, the rest canaries or answers the client never got); re-applied %d, conflicts %d (key retried in the new Region, charged once); acknowledged payments missing afterwards: %d\n",
				s.Name, s.Named, s.Lost, s.Reapplied, s.Conflicts, s.MissingAfterReconcile)
		}
	}
	for _, s := range d.results {
		fmt.Fprintf(&b, "reports of %s:\n  %s\n", s.Name, strings.Join(s.Reports, "\n  "))
	}
	_, werr := fmt.Fprint(d.w, b.String())
	j, err := json.MarshalIndent(d.results, "", "  ")
	return errors.Join(werr, err,
		os.WriteFile(filepath.Join(d.out, "summary.txt"), []byte(b.String()), 0o644),
		os.WriteFile(filepath.Join(d.out, "summary.json"), j, 0o644))
}
