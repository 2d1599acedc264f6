// Command drlab runs the DR lab: two Regions on loopback with real
// databases in asynchronous replication, the payment service, a Route 53
// stand-in and fault injection (see docs/lab.md). All logic lives in
// internal/lab; this only calls it.
package main

import (
	"os"

	"github.com/payment-dr/payment-dr/internal/lab/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
