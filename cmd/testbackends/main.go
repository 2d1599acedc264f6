// Command testbackends starts and stops the backends a test run shares
// (internal/backends.StartShared): two MariaDB servers and dynalite, on
// free loopback ports, for make test and make bench (scripts/backends.sh).
//
//	testbackends start -dir DIR [-dynalite PATH]  # prints `export NAME='VALUE'` lines for the shell
//	testbackends stop -dir DIR
//	testbackends dynalite-front -listen ADDR -upstream URL  # started by `start`
//
// The servers outlive `start`; `stop` ends them through their pid files
// in DIR. dynalite-front is the front `start` puts before dynalite
// (backends.WholeRequests), run as a process of its own so it outlives
// `start` too.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/payment-dr/payment-dr/internal/backends"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testbackends:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "start" && args[0] != "stop" && args[0] != frontCommand) {
		return fmt.Errorf("want a command: start or stop (testbackends start -dir DIR)")
	}
	if args[0] == frontCommand {
		return serveFront(args[1:])
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
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env, err := backends.StartShared(context.Background(), abs, bin, []string{self, frontCommand})
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		// Single quotes: the shell takes the value as it is.
		fmt.Printf("export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return nil
}

const frontCommand = "dynalite-front"

func serveFront(args []string) error {
	fs := flag.NewFlagSet(frontCommand, flag.ContinueOnError)
	listen := fs.String("listen", "", "loopback address to serve on, 127.0.0.1:PORT (required)")
	upstream := fs.String("upstream", "", "dynalite's URL, http://127.0.0.1:PORT (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *listen == "" || *upstream == "" {
		return fmt.Errorf("%s needs -listen and -upstream", frontCommand)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return backends.ServeFront(ctx, *listen, *upstream)
}
