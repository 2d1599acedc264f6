// Package cli is drlab's command line; cmd/drlab only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/daemon"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// usage is drlab's help; the fault kinds come from labapi.Faults.
var usage = fmt.Sprintf(`drlab: a two-Region DR lab on loopback (MariaDB in GTID replication across a
Toxiproxy link, the payment service per Region, dynalite, a Route 53 stand-in)

usage:
  drlab up --dir DIR [--config config/dev.json] [--link-latency 35ms] [--witness-latency 6ms] [--secondary-witness-latency 25ms]
           [--check-interval 1s] [--failure-threshold 3] [--ttl 1s] [--payments-bin PATH] [--dynalite PATH]
  drlab status --dir DIR [--json]
  drlab fault --dir DIR KIND [ARG]   %s
  drlab load --dir DIR --rate N --duration D --out FILE [--region REGION] [--no-retry]
  drlab verify --dir DIR --acks FILE [--lost FILE] [--json]
  drlab down --dir DIR
  drlab drill --dir DIR [--out dr-drill] [--config config/dev.json] [--rate 100]
                                     the whole drill of make drill: up, planned switchovers, unplanned
                                     failover, failback, verify after each, summary, down

drctl drives the lab with --lab DIR on every subcommand.`, faultKinds())

// faultKinds lists the fault kinds for the usage, two to four a line.
func faultKinds() string {
	var lines []string
	line := ""
	for _, f := range labapi.Faults {
		k := f.Usage()
		if line != "" && len(line)+len(k) > 60 {
			lines = append(lines, line+" |")
			line = ""
		}
		if line != "" {
			line += " | "
		}
		line += k
	}
	return strings.Join(append(lines, line), "\n"+strings.Repeat(" ", 37))
}

type usageError struct{ error }

func badUsage(f string, a ...any) error { return usageError{fmt.Errorf(f, a...)} }

// Main runs drlab and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string, io.Writer) error{
		"up": cmdUp, "serve": cmdServe, "status": cmdStatus, "fault": cmdFault,
		"load": cmdLoad, "verify": cmdVerify, "down": cmdDown, "drill": cmdDrill,
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "drlab: unknown command %q\n\n%s\n", args[0], usage)
		return 2
	}
	err := f(ctx, args[1:], stdout)
	var ue usageError
	var ve verifyFailed
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "drlab "+args[0]+":", err)
		return 2
	case errors.As(err, &ve):
		return 1
	default:
		fmt.Fprintln(stderr, "drlab "+args[0]+":", err)
		return 1
	}
}

// flags parses args; --dir is required and positional arguments are
// returned (only fault takes them).
func flags(fs *flag.FlagSet, args []string, dir *string, positional bool) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.StringVar(dir, "dir", "", "the lab directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, badUsage("%v", err)
	}
	rest := fs.Args()
	if *dir == "" {
		return nil, badUsage("--dir is required")
	}
	if !positional && len(rest) > 0 {
		return nil, badUsage("unexpected argument %q", rest[0])
	}
	return rest, nil
}

// client reaches the running lab's daemon.
func client(dir string) (*labapi.Client, labdir.State, error) {
	st, err := labdir.Dir(dir).ReadState()
	if err != nil {
		return nil, st, err
	}
	return &labapi.Client{Addr: st.Control}, st, nil
}

func cmdServe(_ context.Context, args []string, _ io.Writer) error {
	var o daemon.Options
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&o.ConfigPath, "config", "", "")
	fs.DurationVar(&o.LinkLatency, "link-latency", 0, "")
	fs.DurationVar(&o.WitnessLatency, "witness-latency", 0, "")
	fs.Func("secondary-witness-latency", "", func(s string) error {
		d, err := labapi.ParseLatency(s)
		o.SecondaryWitnessLatency = &d
		return err
	})
	fs.DurationVar(&o.CheckInterval, "check-interval", 0, "")
	fs.IntVar(&o.FailureThreshold, "failure-threshold", 0, "")
	fs.DurationVar(&o.TTL, "ttl", 0, "")
	fs.StringVar(&o.PaymentsBin, "payments-bin", "", "")
	fs.StringVar(&o.Dynalite, "dynalite", "", "")
	fs.StringVar(&o.Templates, "templates", "", "")
	fs.StringVar(&o.ARCTriggers, "arc-triggers", labapi.TriggersOff, "")
	if _, err := flags(fs, args, &o.Dir, false); err != nil {
		return err
	}
	return daemon.Serve(o)
}

func cmdFault(ctx context.Context, args []string, out io.Writer) error {
	var dir string
	rest, err := flags(flag.NewFlagSet("fault", flag.ContinueOnError), args, &dir, true)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return badUsage("want a fault KIND: %s", labapi.FaultUsage())
	}
	c, st, err := client(dir)
	if err != nil {
		return err
	}
	req := labapi.FaultRequest{Kind: rest[0], Args: rest[1:]}
	if _, err := req.ParseIn(labapi.Targets{Regions: []string{st.Primary, st.Secondary}, Witness: st.JournalWitness}); err != nil {
		return badUsage("%v", err)
	}
	if err := c.Fault(ctx, req); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: done at %s\n", rest[0], time.Now().UTC().Format(time.RFC3339Nano))
	return nil
}
