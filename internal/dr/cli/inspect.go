package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/payment-dr/payment-dr/internal/dr"
)

var cmdStatus = &Command{
	Name: "status", UsageLine: "status [--json]",
	Short: "where the writer is, lag, health checks, replicas, backups",
	Flags: func(fs *flag.FlagSet, v *inv) { fs.BoolVar(&v.o.JSON, "json", false, "print JSON") },
	Run: func(ctx context.Context, v *inv) error {
		conn, err := v.connect(ctx)
		if err != nil {
			return err
		}
		s := v.controller(conn.Cloud).Status(ctx)
		if v.o.JSON {
			return s.WriteJSON(v.d.Stdout)
		}
		s.WriteText(v.d.Stdout)
		if conn.ARC != nil {
			v.writeLatestExecution(ctx, conn.ARC)
		}
		return nil
	},
}

var cmdEvaluate = &Command{
	Name: "evaluate", UsageLine: "evaluate [--json]",
	Short: "would a switchover or failover succeed now? (exit 1 with findings)",
	Flags: func(fs *flag.FlagSet, v *inv) { fs.BoolVar(&v.o.JSON, "json", false, "print JSON") },
	Run: func(ctx context.Context, v *inv) error {
		conn, err := v.connect(ctx)
		if err != nil {
			return err
		}
		findings := v.controller(conn.Cloud).Evaluate(ctx)
		out := v.d.Stdout
		switch {
		case v.o.JSON:
			if findings == nil {
				findings = []dr.Finding{}
			}
			fmt.Fprintln(out, toJSON(map[string]any{"ready": len(findings) == 0, "findings": findings}))
		case len(findings) == 0:
			fmt.Fprintln(out, "ready: a switchover or failover would succeed now")
		default:
			fmt.Fprintf(out, "NOT READY: %d findings\n", len(findings))
			for _, f := range findings {
				fmt.Fprintln(out, "  -", f)
			}
		}
		if len(findings) > 0 {
			return errFindings
		}
		return nil
	},
}
