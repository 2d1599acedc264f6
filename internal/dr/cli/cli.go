// Package cli is drctl's command line: one Command per subcommand (flags,
// usage, run), confirmation, journal and report files. cmd/drctl only
// calls Main.
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
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// Deps are what the commands need from the outside world; tests replace them.
type Deps struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// Connect builds the Cloud (and the canary, for drills) once the
	// flags are valid: nothing touches AWS before that. It is where the
	// cloud is chosen: ConnectAWS, or the DR lab's for o.Lab (cmd/drctl).
	Connect func(ctx context.Context, cfg config.Config, o Options) (Conn, error)
	// Poll overrides how often steps re-check AWS (tests); 0 means 5 s.
	Poll time.Duration
}

// Conn is what Connect provides.
type Conn struct {
	Cloud  dr.Cloud
	Canary dr.Canary // drills only
	// Mirror is the DynamoDB copy of the journal (--journal-ddb), or nil.
	Mirror runlog.Mirror
	// Reconcile opens the old primary's data and the writer's (reconcile).
	Reconcile reconcile.Access
	// Poll, if set, is the shortest wait between re-checks for this
	// connection (the DR lab moves in about a second); Deps.Poll wins.
	Poll time.Duration
	// ClockOffset shifts drctl's clock (the DR lab's clock-offset drctl
	// fault: an operator's machine whose clock is off).
	ClockOffset time.Duration
	// ARC is ARC Region switch's execution API (--via arc, approve,
	// status), or nil where the connection has none.
	ARC arcexec.Service
}

// Options are the flags common to the commands.
type Options struct {
	ConfigPath string
	RoleARN    string
	MFASerial  string
	APIKeyFile string
	ReportDir  string
	Yes        bool
	DryRun     bool
	JSON       bool
	Resume     string
	// New starts a fresh run even if an unfinished one of the same kind
	// and target exists (which is otherwise resumed automatically).
	New bool
	// JournalDDB mirrors the journal to a DynamoDB item (see awsops).
	JournalDDB bool
	To         string
	// Canary is set for drills: Connect must then provide a working
	// canary (its API key), or fail before anything moves.
	Canary bool
	// Lab is the directory of a running DR lab (drlab up --dir): drctl
	// then acts on the lab instead of AWS. Deps.Connect resolves it; the
	// CLI itself never links the lab.
	Lab string
	// From is reconcile's old primary Region; Apply re-inserts; Since
	// (RFC 3339) overrides where its window begins.
	From  string
	Apply bool
	Since string
	// Via is who executes a move: ViaDrctl or ViaARC (then Connect must
	// provide ARC and, to read the custom actions' journal, Mirror).
	Via string
}

// inv is one invocation: the dependencies, the parsed flags and the
// configuration.
type inv struct {
	d   Deps
	o   Options
	cfg config.Config
	// command-specific flags
	allowLoss, unplanned, force bool
	interval                    time.Duration
	replayFrom                  string        // --replay-from as given
	replayFromTime              time.Time     // and parsed by checkReplayFrom
	clockOffset                 time.Duration // the connection's ClockOffset
	// approve's flags
	execution, comment string
	decline            bool
}

// Command is one drctl subcommand, in the style of cmd/go.
type Command struct {
	Name      string
	UsageLine string
	Short     string
	// Flags adds the command's own flags to the common ones.
	Flags func(fs *flag.FlagSet, v *inv)
	// Check validates the flags once the configuration is loaded, before
	// anything connects.
	Check func(v *inv) error
	Run   func(ctx context.Context, v *inv) error
}

// Commands are drctl's subcommands in usage order.
func Commands() []*Command {
	return []*Command{cmdStatus, cmdEvaluate, cmdSwitchover, cmdFailover, cmdFailback, cmdDrill, cmdReconcile, cmdRejoin, cmdApprove}
}

func usage() string {
	var b strings.Builder
	b.WriteString("drctl: evaluate, drill and execute a Region switchover or failover of payment-dr\n\nusage: drctl <command> [flags]\n\ncommands:\n")
	for _, c := range Commands() {
		fmt.Fprintf(&b, "  %-40s %s\n", c.UsageLine, c.Short)
	}
	b.WriteString(`
Changing commands (switchover, failover, failback, drill, rejoin, reconcile --apply)
print their plan with --dry-run and ask for the Region name unless --yes.
Moves keep a journal under --report-dir and resume an unfinished run of the
same kind and target automatically when the world still matches it (or
--resume RUN_ID; --new starts afresh). --lab DIR acts on a DR lab.
switchover, failover and rejoin --via arc start the ARC Region switch plan
instead and follow its execution (drctl approve answers its approval step).

run 'drctl <command> -h' for a command's flags`)
	return b.String()
}

// Main runs drctl and returns the exit code.
func Main(args []string, d Deps) int {
	if d.Now == nil {
		d.Now = time.Now
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(d.Stderr, usage())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := dispatch(ctx, args[0], args[1:], d)
	var usageErr usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usageErr):
		fmt.Fprintln(d.Stderr, "drctl:", err)
		return 2
	case errors.Is(err, errFindings):
		return 1
	default:
		fmt.Fprintln(d.Stderr, "drctl:", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

var errFindings = errors.New("evaluate found problems")

func dispatch(ctx context.Context, name string, args []string, d Deps) error {
	var cmd *Command
	var names []string
	for _, c := range Commands() {
		names = append(names, c.Name)
		if c.Name == name {
			cmd = c
		}
	}
	if cmd == nil {
		return badUsage("unknown command %q (want %s)", name, strings.Join(names, ", "))
	}
	v := &inv{d: d}
	fs := flag.NewFlagSet("drctl "+name, flag.ContinueOnError)
	fs.SetOutput(d.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(d.Stderr, "usage: drctl %s\n\n%s\n\nflags:\n", cmd.UsageLine, cmd.Short)
		fs.PrintDefaults()
	}
	commonFlags(fs, &v.o)
	if cmd.Flags != nil {
		cmd.Flags(fs, v)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return badUsage("unexpected arguments %q", fs.Args())
	}
	if v.o.MFASerial != "" && v.o.RoleARN == "" {
		return badUsage("--mfa-serial needs --role-arn")
	}
	cfg, err := config.Load(v.o.ConfigPath)
	if err != nil {
		return err
	}
	v.cfg = cfg
	if cmd.Check != nil {
		if err := cmd.Check(v); err != nil {
			return err
		}
	}
	return cmd.Run(ctx, v)
}

func commonFlags(fs *flag.FlagSet, o *Options) {
	fs.StringVar(&o.ConfigPath, "config", envOr("PAYMENT_DR_CONFIG", "config/dev.json"), "environment configuration (env PAYMENT_DR_CONFIG)")
	fs.StringVar(&o.RoleARN, "role-arn", "", "assume this role (the stack's payment-dr-automation-<env>) before acting")
	fs.StringVar(&o.MFASerial, "mfa-serial", "", "MFA device ARN for --role-arn (the DR role requires MFA); the code is read from the terminal")
	fs.StringVar(&o.Lab, "lab", "", "act on the DR lab running in this directory (drlab up --dir) instead of AWS")
}

// connect builds the Cloud through Deps.Connect, which cmd/drctl chose
// (AWS, or the DR lab for --lab).
func (v *inv) connect(ctx context.Context) (Conn, error) {
	conn, err := v.d.Connect(ctx, v.cfg, v.o)
	if err == nil && conn.ClockOffset != 0 {
		v.clockOffset = conn.ClockOffset
		fmt.Fprintf(v.d.Stderr, "warning: drctl's clock runs %s off (the lab's clock-offset fault)\n", conn.ClockOffset)
	}
	return conn, err
}

// controller's clock is Deps.Now shifted by the connection's offset, read
// at every call: move builds the controller before it connects.
func (v *inv) controller(cloud dr.Cloud) *dr.Controller {
	now := func() time.Time { return v.d.Now().Add(v.clockOffset) }
	return &dr.Controller{Cfg: v.cfg, Cloud: cloud, Clock: clockFunc(now), Log: v.d.Stdout, Poll: v.d.Poll}
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
