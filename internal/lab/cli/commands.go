package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/load"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
	"github.com/payment-dr/payment-dr/internal/naming"
)

func cmdStatus(ctx context.Context, args []string, out io.Writer) error {
	var dir string
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := flags(fs, args, &dir, false); err != nil {
		return err
	}
	c, _, err := client(dir)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(out, st)
	return nil
}

func printStatus(out io.Writer, st labapi.Status) {
	fmt.Fprintf(out, "cluster %s, writer %s\n", st.Cluster.Status, st.Cluster.Writer)
	for _, m := range st.Cluster.Members {
		role := "replica"
		if m.Writer {
			role = "writer"
		}
		db := "down"
		if m.Frozen {
			db = "frozen"
		}
		if m.Reachable {
			db = fmt.Sprintf("read_only=%v", m.ReadOnly)
		}
		repl := ""
		if !m.Writer {
			lag := "unknown"
			if m.LagMs >= 0 {
				lag = fmt.Sprintf("%dms", m.LagMs)
			}
			repl = fmt.Sprintf(" sync=%s io=%v sql=%v stalled=%v lag=%s", orDash(m.Sync), m.IORunning, m.SQLRunning, m.Stalled, lag)
			if m.ReplError != "" {
				repl += " error=" + m.ReplError
			}
		}
		sv := st.Services[m.Region]
		ck := st.Checks[m.Region]
		fmt.Fprintf(out, "  %-14s %-7s db %s%s | service running=%v fenced=%v /health %d | health check healthy=%v\n",
			m.Region, role, db, repl, sv.Running, sv.Fenced, sv.Health, ck.Healthy)
	}
	cut := []string{}
	for r, c := range st.Link.Cut {
		if c {
			cut = append(cut, r)
		}
	}
	sort.Strings(cut)
	fmt.Fprintf(out, "failover name answers %s (front door's cached answer %s); detection floor %dms\n", st.Answer, st.CachedAnswer, st.FloorMs)
	fmt.Fprintf(out, "link latency %dms one way, cut: %s; regions down: %s\n", st.Link.LatencyMs, orDash(strings.Join(cut, ",")), orDash(strings.Join(st.Down, ",")))
	fmt.Fprintf(out, "partitioned: %s; journal: witness down=%v, links cut: %s; databases frozen: %s\n", orDash(strings.Join(st.Partitioned, ",")),
		st.WitnessDown, orDash(strings.Join(st.JournalCuts, ",")), orDash(strings.Join(st.Frozen, ",")))
	if m := st.LastMove; m != nil {
		fmt.Fprintf(out, "last move %s %s %s -> %s: %s %s\n", m.ID, m.Kind, m.From, m.To, m.Status, m.Error)
	}
	printRegionSwitch(out, st.RegionSwitch)
}

// printRegionSwitch is the lab's Region switch line(s) of status.
func printRegionSwitch(out io.Writer, rs labapi.RegionSwitch) {
	if rs.Plan == "" {
		fmt.Fprintf(out, "region switch: no plan (%s)\n", orDash(rs.Error))
		return
	}
	fmt.Fprintf(out, "region switch: plan %s, triggers %s, ARC's health checks name %s\n", rs.Plan, rs.Triggers, orDash(rs.Controlled))
	if x := rs.Latest; x != nil {
		fmt.Fprintf(out, "  latest execution %s: %s %s of %s, %s", x.ID, x.Mode, x.Action, x.Region, x.State)
		if x.PendingApproval != "" {
			fmt.Fprintf(out, ", step %s waits for drctl approve", x.PendingApproval)
		}
		fmt.Fprintln(out)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdLoad(ctx context.Context, args []string, out io.Writer) error {
	var dir, file, region string
	var o load.Options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&region, "region", "", "send to this Region's API directly (a client inside it) instead of the failover URL")
	fs.IntVar(&o.Rate, "rate", 0, "payments per second")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to send")
	fs.StringVar(&file, "out", "", "ack file (JSON lines, appended)")
	fs.BoolVar(&o.NoRetry, "no-retry", false, "send each key once and record its one answer, whatever it is (drlab verify then checks that no \"not applied\" was a lie)")
	if _, err := flags(fs, args, &dir, false); err != nil {
		return err
	}
	if file == "" {
		return badUsage("--out FILE is required")
	}
	lab, err := labdir.Dir(dir).ReadLab()
	if err != nil {
		return err
	}
	if o.URL, err = loadURL(lab, region); err != nil {
		return usageError{err}
	}
	o.Region = region
	o.APIKey = lab.APIKey
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	o.Out = f
	start := time.Now()
	res, err := load.Run(ctx, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	fmt.Fprintf(out, "load: %d started, %d acknowledged, %d retries, %d rejected, %d given up, %d answered otherwise (--no-retry) in %.1fs; answers in %s\n",
		res.Started, res.Acked, res.Retries, res.Rejected, res.GaveUp, res.Failed, time.Since(start).Seconds(), file)
	return err
}

type verifyFailed struct{ error }

func cmdVerify(ctx context.Context, args []string, out io.Writer) error {
	var dir, ackFile, lostFile string
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.StringVar(&ackFile, "acks", "", "ack file written by drlab load")
	fs.StringVar(&lostFile, "lost", "", "payments an unplanned failover lost (drctl's reconcile report, JSON lines or keys)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := flags(fs, args, &dir, false); err != nil {
		return err
	}
	if ackFile == "" {
		return badUsage("--acks FILE is required")
	}
	ackList, err := acks.ParseFile(ackFile)
	if err != nil {
		return fmt.Errorf("--acks: %w", err)
	}
	lost := map[string]bool{}
	if lostFile != "" {
		b, err := os.ReadFile(lostFile)
		if err != nil {
			return err
		}
		if lost, err = acks.ParseLost(b); err != nil {
			return fmt.Errorf("--lost %s: %w", lostFile, err)
		}
	}
	rep, writer, err := verifyWriter(ctx, dir, ackList, lost)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Writer string `json:"writer"`
			OK     bool   `json:"ok"`
			verify.Report
		}{writer, rep.OK(), rep}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "verify against the writer in %s:\n%s", writer, rep.Text())
	}
	if !rep.OK() {
		return verifyFailed{errors.New("violations")}
	}
	return nil
}

// verifyWriter finds the current writer through the daemon and checks
// its database directly.
func verifyWriter(ctx context.Context, dir string, ackList []acks.Ack, lost map[string]bool) (verify.Report, string, error) {
	lab, err := labdir.Dir(dir).ReadLab()
	if err != nil {
		return verify.Report{}, "", err
	}
	c, _, err := client(dir)
	if err != nil {
		return verify.Report{}, "", err
	}
	cl, err := c.Cluster(ctx)
	if err != nil {
		return verify.Report{}, "", err
	}
	if cl.Move.InProgress() {
		return verify.Report{}, "", fmt.Errorf("a %s to %s is in progress: verify once it is done", cl.Move.Kind, cl.Move.To)
	}
	db, err := sql.Open("mysql", lab.Regions[cl.Writer].MySQLAdminDSN)
	if err != nil {
		return verify.Report{}, "", err
	}
	defer db.Close()
	rep, err := verify.Run(ctx, db, ackList, lost)
	if err != nil {
		return rep, cl.Writer, err
	}
	if err := checkElsewhere(ctx, c, lab, cl.Writer, db, ackList, &rep); err != nil {
		return rep, cl.Writer, err
	}
	if err := checkClaims(ctx, dir, lab, cl.Writer, ackList, &rep); err != nil {
		return rep, cl.Writer, err
	}
	return rep, cl.Writer, nil
}

// checkElsewhere compares the writer with the other Region's database
// and, once the lab's Aurora rebuilt a diverged old writer, with the copy
// of its own data kept aside (the only place its own writes are left).
// A database that does not answer, or is being rebuilt, is reported, not
// an error.
func checkElsewhere(ctx context.Context, c *labapi.Client, lab labdir.Lab, writer string, db *sql.DB, ackList []acks.Ack, rep *verify.Report) error {
	for r, reg := range lab.Regions {
		if r == writer {
			continue
		}
		dsns := []string{reg.MySQLAdminDSN}
		if kept, err := c.KeptDatabase(ctx, r); err == nil {
			dsn, derr := withDatabase(reg.MySQLAdminDSN, kept)
			if derr != nil {
				return derr
			}
			if dsn != reg.MySQLAdminDSN {
				dsns = append(dsns, dsn)
			}
		}
		for _, dsn := range dsns {
			if err := compareWith(ctx, r, dsn, db, ackList, rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// compareWith compares the writer with the database at dsn in region.
func compareWith(ctx context.Context, region, dsn string, db *sql.DB, ackList []acks.Ack, rep *verify.Report) error {
	other, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer other.Close()
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = other.PingContext(octx)
	cancel()
	if err != nil {
		rep.NotCompared = append(rep.NotCompared, fmt.Sprintf("%s's database does not answer (%v)", region, err))
		return nil
	}
	err = rep.CheckOther(ctx, db, other, ackList)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == mysqlNoSuchTable {
		rep.NotCompared = append(rep.NotCompared, fmt.Sprintf("%s's database is being rebuilt (%v)", region, err))
		return nil
	}
	return err
}

// mysqlNoSuchTable is ER_NO_SUCH_TABLE: the lab's Aurora is reloading the
// database from the writer.
const mysqlNoSuchTable = 1146

// withDatabase is dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("the lab's database DSN: %w", err)
	}
	cfg.DBName = name
	return cfg.FormatDSN(), nil
}

// checkClaims reads every acknowledged key's claim in the journal,
// through the writer's endpoint.
func checkClaims(ctx context.Context, dir string, lab labdir.Lab, writer string, ackList []acks.Ack, rep *verify.Report) error {
	st, err := labdir.Dir(dir).ReadState()
	if err != nil {
		return err
	}
	ep := st.JournalEndpoints[writer]
	if ep == "" {
		return fmt.Errorf("the lab has no journal endpoint for %s", writer)
	}
	j := &claims.Journal{Client: backends.DynamoDB(ep, writer), Table: naming.New(lab.Environment, "").JournalTable()}
	return rep.CheckClaims(ctx, claimReader{j}, ackList)
}

// claimReader reads claims for verify.
type claimReader struct{ j *claims.Journal }

func (c claimReader) Claim(ctx context.Context, key string) (string, string, bool, error) {
	cl, found, err := c.j.Get(ctx, key)
	return cl.PaymentID, cl.State, found, err
}

// loadURL is where drlab load sends payments: the failover URL, or with
// --region that Region's own API, as a client inside the Region reaches it
// whatever the failover record says.
func loadURL(lab labdir.Lab, region string) (string, error) {
	if region == "" {
		return lab.FailoverURL, nil
	}
	r, ok := lab.Regions[region]
	if !ok || r.APIURL == "" {
		var names []string
		for n := range lab.Regions {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("--region %q: not a Region of the lab (%s)", region, strings.Join(names, ", "))
	}
	return r.APIURL, nil
}
