// Command testbackends starts and stops the backends a test run shares
// (internal/backends.StartShared): two MariaDB servers and dynalite, on
// free loopback ports, for make test and make bench (scripts/backends.sh).
//
//	testbackends start -dir DIR [-dynalite PATH]  # prints `export NAME='VALUE'` lines for the shell
//	testbackends stop -dir DIR
//
// The servers outlive `start`; `stop` ends them through their pid files
// in DIR.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/payment-dr/payment-dr/internal/backends"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testbackends:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "start" && args[0] != "stop") {
		return fmt.Errorf("want a command: start or stop (testbackends start -dir DIR)")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for the servers' data, logs and pid files (required)")
	dynalite := fs.String("dynalite", "", "dynalite (default: from PATH or tools/node_modules/.bin)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("-dir is required: where the servers keep their data, logs and pid files")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if args[0] == "stop" {
		return backends.StopShared(abs)
	}
	bin, err := backends.FindDynalite(*dynalite)
	if err != nil {
		return err
	}
	env, err := backends.StartShared(context.Background(), abs, bin)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		// Single quotes: the shell takes the value as it is.
		fmt.Printf("export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return nil
}
