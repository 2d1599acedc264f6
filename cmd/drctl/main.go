// Command drctl evaluates, drills and executes a Region switchover or
// failover of payment-dr and reports the RTO and RPO it achieved. See
// README "Region outage runbook". All logic is in internal/dr.
package main

import (
	"os"

	"github.com/payment-dr/payment-dr/internal/dr/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Deps{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Connect: cli.ConnectAWS}))
}
