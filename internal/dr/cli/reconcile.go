package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
)

var cmdReconcile = &Command{
	Name: "reconcile", UsageLine: "reconcile --from REGION [--since TIME] [--apply] [--yes] [--json]",
	Short: "list the payments the old primary has and the writer lacks; --apply re-inserts them",
	Flags: func(fs *flag.FlagSet, v *inv) {
		fs.StringVar(&v.o.From, "from", "", "the old primary's Region (lost by an unplanned failover)")
		fs.BoolVar(&v.o.Apply, "apply", false, "re-insert the missing payments and their ledger entries (by idempotency key)")
		fs.StringVar(&v.o.Since, "since", "", "read the old primary's payments created from this time on (RFC 3339; default: its newest payment minus the lag budget and "+reconcile.Margin.String()+")")
		fs.BoolVar(&v.o.Yes, "yes", false, "do not ask for confirmation")
		fs.BoolVar(&v.o.JSON, "json", false, "print JSON")
	},
	Check: func(v *inv) error {
		if v.o.From != v.cfg.PrimaryRegion && v.o.From != v.cfg.SecondaryRegion {
			return badUsage("reconcile needs --from REGION, the old primary (%s or %s)", v.cfg.PrimaryRegion, v.cfg.SecondaryRegion)
		}
		if v.o.Since != "" {
			if _, err := time.Parse(time.RFC3339, v.o.Since); err != nil {
				return badUsage("--since %q is not an RFC 3339 time (e.g. 2026-11-25T04:00:00Z): %v", v.o.Since, err)
			}
		}
		return nil
	},
	Run: runReconcile,
}

// runReconcile keeps the old primary's data first (it may not have been
// possible during the outage), opens it and the writer's, compares, and
// with --apply (confirmed) re-inserts what is missing.
func runReconcile(ctx context.Context, v *inv) error {
	conn, err := v.connect(ctx)
	if err != nil {
		return err
	}
	g, err := conn.Cloud.GlobalCluster(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the global cluster: %w", err)
	}
	if g.Writer() == v.o.From {
		return badUsage("--from %s holds the writer: reconcile reads a former primary", v.o.From)
	}
	ref, err := conn.Cloud.KeepOldPrimaryData(ctx, v.o.From)
	if err != nil {
		return fmt.Errorf("the old primary's data in %s could not be kept, so it is not read: %w", v.o.From, err)
	}
	fmt.Fprintf(v.d.Stderr, "drctl: old primary's data kept as %s\n", ref)
	if conn.Reconcile == nil {
		return fmt.Errorf("the old primary's data is kept as %s, but this connection cannot read it", ref)
	}
	if v.o.Apply && !v.o.Yes {
		if err := v.confirm("reconcile: payments of "+v.o.From+" missing in the writer ("+g.Writer()+") are re-inserted", v.o.From); err != nil {
			return err
		}
	}
	src, dst, release, err := conn.Reconcile.Open(ctx, v.o.From)
	if err != nil {
		return err
	}
	opts := reconcile.Options{Apply: v.o.Apply, LagBudget: time.Duration(v.cfg.Objectives.LagBudgetSeconds) * time.Second}
	if v.o.Since != "" {
		opts.Since, _ = time.Parse(time.RFC3339, v.o.Since) // checked with the flags
	}
	rep, runErr := reconcile.Run(ctx, v.o.From, src, dst, opts)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	relErr := release(rctx)
	if v.o.JSON {
		fmt.Fprintln(v.d.Stdout, toJSON(rep))
	} else {
		writeReconcile(v, rep)
	}
	return errors.Join(runErr, relErr)
}

func writeReconcile(v *inv, rep reconcile.Report) {
	out := v.d.Stdout
	fmt.Fprintf(out, "reconcile from %s: %d payments in the old primary, %d not in the writer (applied %d, conflicts %d, missing %d), read from %s on\n",
		rep.From, rep.Scanned, len(rep.Items), rep.Count(reconcile.Applied), rep.Count(reconcile.Conflict), rep.Count(reconcile.Missing), rep.Since.Format(time.RFC3339))
	if rep.FirstMissing {
		fmt.Fprintf(out, "warning: the oldest payment read (from %s) is missing in the writer too: the loss may begin earlier; run again with an earlier --since\n",
			rep.Since.Format(time.RFC3339))
	}
	if len(rep.Items) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tID\tAMOUNT\tCURRENCY\tCREATED\tOUTCOME")
	for _, it := range rep.Items {
		outcome := string(it.Outcome)
		if it.Outcome == reconcile.Conflict {
			outcome += " (writer has " + it.ExistingID + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", it.IdempotencyKey, it.ID, it.Amount, it.Currency, it.CreatedAt.UTC().Format(time.RFC3339), outcome)
	}
	tw.Flush()
}
