// Command drctl evaluates, drills and executes a Region switchover or
// failover of payment-dr and reports the RTO and RPO it achieved. See
// docs/runbook.md. All logic is in internal/dr; this file only chooses
// the cloud drctl acts on: AWS, or the DR lab with --lab DIR.
package main

import (
	"context"
	"os"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Deps{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Connect: connect}))
}

// connect chooses the cloud once the flags are valid: the DR lab running
// in --lab DIR (cmd/drctl/lab.go), else the AWS account.
func connect(ctx context.Context, cfg config.Config, o cli.Options) (cli.Conn, error) {
	if o.Lab != "" {
		return connectLab(ctx, cfg, o.Lab, o.Via == cli.ViaARC)
	}
	return cli.ConnectAWS(ctx, cfg, o)
}
