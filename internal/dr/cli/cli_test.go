package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

func writeConfig(t *testing.T, production bool) string {
	t.Helper()
	c := map[string]any{"environment": "dev", "domainName": "example.com", "alarmEmail": "a@example.com", "production": production}
	b, _ := json.Marshal(c)
	p := filepath.Join(t.TempDir(), "env.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
	connected      bool
}

func runCLI(t *testing.T, w *drfake.World, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	var r result
	r.code = Main(args, Deps{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Poll: time.Millisecond,
		Connect: func(context.Context, config.Config, Options) (Conn, error) {
			r.connected = true
			if w == nil {
				t.Fatal("the command reached AWS")
			}
			return Conn{Cloud: w, Canary: drfake.Canary{W: w}, Reconcile: drfake.Reconcile{W: w}}, nil
		},
	})
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

func TestBadFlagsAreRejectedBeforeAnythingConnects(t *testing.T) {
	cfg := writeConfig(t, false)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"teleport"}, `unknown command "teleport"`},
		{[]string{"switchover", "-config", cfg}, "switchover needs --to REGION"},
		{[]string{"switchover", "-config", cfg, "--to", "eu-west-1"}, `--to "eu-west-1" is not a Region of dev`},
		{[]string{"failover", "-config", cfg, "--to", "us-west-2", "extra"}, "unexpected arguments"},
		{[]string{"drill", "-config", cfg, "--interval", "5ms"}, "--interval 5ms must be between"},
		{[]string{"switchover", "-config", cfg, "--to", "us-west-2", "--resume", "../../etc"}, "is not a run id"},
		{[]string{"status", "-config", cfg, "--mfa-serial", "arn:aws:iam::1:mfa/x"}, "--mfa-serial needs --role-arn"},
		{[]string{"status", "--to", "us-west-2"}, "flag provided but not defined: -to"},
		{[]string{"failover", "-config", cfg, "--to", "us-west-2", "--replay-from", "2026-11-25T04:00:00Z"}, "add --allow-data-loss"},
		{[]string{"failover", "-config", cfg, "--to", "us-west-2", "--allow-data-loss", "--replay-from", "yesterday"}, "is not an RFC 3339 time"},
		{[]string{"failover", "-config", cfg, "--to", "us-west-2", "--allow-data-loss", "--replay-from", "2999-01-01T00:00:00Z"}, "is not in the past"},
		{[]string{"failover", "-config", cfg, "--to", "us-west-2", "--allow-data-loss", "--replay-from", "2001-01-01T00:00:00Z"}, "older than the journal's retention"},
		{[]string{"status", "-config", filepath.Join(t.TempDir(), "none.json")}, "none.json"},
	}
	for _, tc := range cases {
		r := runCLI(t, nil, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || r.connected {
			t.Errorf("%v: code %d, stderr %q, connected %v", tc.args, r.code, r.stderr, r.connected)
		}
	}
	if r := runCLI(t, nil, ""); r.code != 2 || !strings.Contains(r.stderr, "usage: drctl") {
		t.Errorf("no command: %d %q", r.code, r.stderr)
	}
}

func TestDrillRefusesProductionUnlessForced(t *testing.T) {
	prod := writeConfig(t, true)
	r := runCLI(t, nil, "", "drill", "-config", prod, "--dry-run")
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to drill \"dev\": the configuration marks it production") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "", "drill", "-config", prod, "--dry-run", "--force"); r.code != 0 {
		t.Errorf("--force: %d %q", r.code, r.stderr)
	}
}

func TestDryRunPrintsThePlanAndTouchesNothing(t *testing.T) {
	r := runCLI(t, nil, "", "failover", "-config", writeConfig(t, false), "--to", "us-west-2", "--allow-data-loss", "--dry-run")
	for _, want := range []string{"plan failover -> us-west-2 (13 steps)", "lift-fence", "replay-journal", "record-lag", "FailoverGlobalCluster", "AllowDataLoss=true", "verify-dns"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 || r.connected {
		t.Errorf("code %d connected %v", r.code, r.connected)
	}
}

func TestSwitchoverNeedsConfirmation(t *testing.T) {
	w := drfake.NewWorld()
	dir := t.TempDir()
	r := runCLI(t, w, "us-east-1\n", "switchover", "-config", writeConfig(t, false), "--to", "us-west-2", "--report-dir", dir)
	if r.code == 0 || !strings.Contains(r.stderr, `not confirmed: typed "us-east-1", expected "us-west-2"`) || w.Writer != "us-east-1" {
		t.Fatalf("wrong confirmation accepted: %d %q", r.code, r.stderr)
	}
	r = runCLI(t, w, "us-west-2\n", "switchover", "-config", writeConfig(t, false), "--to", "us-west-2", "--report-dir", dir)
	if r.code != 0 || w.Writer != "us-west-2" {
		t.Fatalf("confirmed switchover: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"journal.json", "report.txt", "report.json", "report.svg"} {
		m, _ := filepath.Glob(filepath.Join(dir, "switchover-*", f))
		if len(m) != 1 {
			t.Errorf("%s not written", f)
		}
	}
	// Failback moves it home.
	if r := runCLI(t, w, "", "failback", "-config", writeConfig(t, false), "--yes", "--report-dir", dir); r.code != 0 || w.Writer != "us-east-1" {
		t.Fatalf("failback: %d %s", r.code, r.stderr)
	}
}

func TestFailedRunResumesByIDOrAutomatically(t *testing.T) {
	w := drfake.NewWorld()
	w.FailPut["us-east-1"] = 1
	dir := t.TempDir()
	cfg := writeConfig(t, false)
	r := runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "step update-parameters") || !strings.Contains(r.stderr, "resume with: drctl switchover --config "+cfg+" --to us-west-2 --report-dir "+dir+" --resume switchover-") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stderr[strings.Index(r.stderr, "--resume ")+len("--resume "):])
	if r := runCLI(t, w, "", "failover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir, "--resume", id); r.code != 2 || !strings.Contains(r.stderr, "is a switchover to us-west-2") {
		t.Errorf("resume as another kind: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir, "--resume", id, "--new"); r.code != 2 || !strings.Contains(r.stderr, "exclude each other") {
		t.Errorf("--resume with --new: %d %q", r.code, r.stderr)
	}
	// The same command again finds the unfinished run and resumes it:
	// the writer has moved, so --to is no longer "another Region", and
	// the switchover is not sent twice.
	r = runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "found unfinished run "+id) || !strings.Contains(r.stdout, "= switch-writer: done") || w.Called("SwitchoverGlobalCluster") != 1 {
		t.Fatalf("auto-resume: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if w.Params["us-east-1"]["/payment/dev/dr/active-region"] != "us-west-2" {
		t.Errorf("parameters after resume: %v", w.Params["us-east-1"])
	}
	// Complete now: neither resumed again nor resumable by id.
	if r := runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir, "--resume", id); r.code != 2 || !strings.Contains(r.stderr, "already complete") {
		t.Errorf("resume of a complete run: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir); r.code != 2 || !strings.Contains(r.stderr, "already in the target Region") {
		t.Errorf("new run to the current writer: %d %q", r.code, r.stderr)
	}
}

// memMirror is a runlog.Mirror shared by two "machines".
type memMirror map[string][]byte

func (m memMirror) Put(_ context.Context, id string, data []byte) error {
	m[id] = append([]byte(nil), data...)
	return nil
}

func (m memMirror) Get(_ context.Context, id string) ([]byte, error) {
	if b, ok := m[id]; ok {
		return b, nil
	}
	return nil, runlog.ErrNotFound
}

func TestMirroredJournalResumesOnAnotherMachine(t *testing.T) {
	w := drfake.NewWorld()
	w.FailPut["us-west-2"] = 1
	mirror := memMirror{}
	cfg := writeConfig(t, false)
	run := func(dir string, args ...string) result {
		var out, errb bytes.Buffer
		code := Main(append([]string{"failover", "-config", cfg, "--to", "us-west-2", "--allow-data-loss", "--yes", "--journal-ddb", "--report-dir", dir}, args...), Deps{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Poll: time.Millisecond,
			Connect: func(_ context.Context, _ config.Config, o Options) (Conn, error) {
				if !o.JournalDDB {
					t.Error("--journal-ddb not passed to Connect")
				}
				return Conn{Cloud: w, Mirror: mirror}, nil
			},
		})
		return result{code: code, stdout: out.String(), stderr: errb.String()}
	}
	r := run(t.TempDir())
	if r.code != 1 || len(mirror) != 1 {
		t.Fatalf("first machine: %d %q mirror %d", r.code, r.stderr, len(mirror))
	}
	var id string
	for k := range mirror {
		id = k
	}
	second := t.TempDir() // a machine without the local journal
	r = run(second, "--resume", id)
	if r.code != 0 || !strings.Contains(r.stdout, "resuming run "+id) || w.Called("FailoverGlobalCluster") != 1 {
		t.Fatalf("second machine: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(second, id, "report.svg")); err != nil {
		t.Error(err)
	}
	j, err := runlog.Parse(mirror[id])
	if err != nil || !j.Completed || j.Values["lagAtFailoverMs"] != "800" {
		t.Errorf("mirrored journal: %v %+v", err, j)
	}
}

func TestToTheCurrentPrimaryIsRefusedBeforeConfirmation(t *testing.T) {
	w := drfake.NewWorld()
	for _, args := range [][]string{
		{"switchover", "--to", "us-east-1"},
		{"failover", "--to", "us-east-1", "--allow-data-loss"},
		{"failback"},
		{"drill", "--to", "us-east-1"},
	} {
		r := runCLI(t, w, "us-east-1\n", append(args, "-config", writeConfig(t, false), "--report-dir", t.TempDir())...)
		if r.code != 2 || !strings.Contains(r.stderr, "--to us-east-1: the writer is already in the target Region") || strings.Contains(r.stdout, "Type the Region") {
			t.Errorf("%v: %d %q %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if n := w.Called("SwitchoverGlobalCluster") + w.Called("FailoverGlobalCluster"); n != 0 {
		t.Errorf("%d moves sent", n)
	}
}

func TestEvaluateExitCodeAndStatusJSON(t *testing.T) {
	w := drfake.NewWorld()
	cfg := writeConfig(t, false)
	if r := runCLI(t, w, "", "evaluate", "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "ready") {
		t.Errorf("healthy: %d %s", r.code, r.stdout)
	}
	w.Denied = []string{"rds:SwitchoverGlobalCluster on arn:aws:rds::111111111111:global-cluster:payments-global-dev"}
	r := runCLI(t, w, "", "evaluate", "-config", cfg, "--json")
	var out struct {
		Ready    bool         `json:"ready"`
		Findings []dr.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out.Ready || out.Findings[0].Check != "permissions" {
		t.Errorf("missing permission: %d %s %v", r.code, r.stdout, err)
	}
	r = runCLI(t, w, "", "status", "-config", cfg, "--json")
	var st dr.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Primary != "us-east-1" || len(st.Regions) != 2 {
		t.Errorf("status: %v %s", err, r.stdout)
	}
}

func TestDrillWritesReportsWithMeasuredRTOAndRPO(t *testing.T) {
	w := drfake.NewWorld()
	w.Replicate = false // replication stalled: an unplanned failover loses the tail
	dir := t.TempDir()
	r := runCLI(t, w, "", "drill", "-config", writeConfig(t, false), "--unplanned", "--yes", "--interval", "100ms", "--report-dir", dir)
	if r.code != 0 {
		t.Fatalf("%d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Replication stalled from the start: the first canary is lost too, so
	// the RPO is a lower bound.
	for _, want := range []string{"RTO measured", "RPO at least", "lower bound", "lost after failover"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	svgs, _ := filepath.Glob(filepath.Join(dir, "drill-*", "report.svg"))
	if len(svgs) != 1 {
		t.Fatal("no SVG")
	}
	data, _ := os.ReadFile(svgs[0])
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	if !bytes.Contains(data, []byte("canary writes")) || !bytes.Contains(data, []byte("writer moves")) {
		t.Error("SVG lacks the canary lane or the failover marker")
	}
}

// FuzzFlagValues: whatever --to, --interval and --resume hold, a dry run
// either prints a plan (exit 0) for a valid combination or explains the
// problem (exit 2), and never reaches AWS.
func FuzzFlagValues(f *testing.F) {
	cfg := writeConfigF(f)
	f.Add(uint8(0), "us-west-2", "1s", "")
	f.Add(uint8(3), "us-east-1", "50ms", "")
	f.Add(uint8(1), "eu-west-1", "1s", "")
	f.Add(uint8(2), "us-west-2", "1m1s", "drill-20261125T040000Z-us-west-2")
	cmds := []string{"switchover", "failover", "drill", "failback"}
	f.Fuzz(func(t *testing.T, which uint8, to, interval, resume string) {
		cmd := cmds[int(which)%len(cmds)]
		args := []string{cmd, "-config", cfg, "--dry-run"}
		if cmd != "failback" {
			args = append(args, "--to="+to)
		}
		if cmd == "drill" {
			args = append(args, "--interval="+interval)
		}
		if resume != "" {
			args = append(args, "--resume="+resume)
		}
		var out, errb bytes.Buffer
		code := Main(args, Deps{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Connect: func(context.Context, config.Config, Options) (Conn, error) {
				t.Fatalf("%v reached AWS", args)
				return Conn{}, nil
			}})
		d, derr := time.ParseDuration(interval)
		valid := (cmd == "failback" || to == "us-east-1" || to == "us-west-2") && resume == "" &&
			(cmd != "drill" || (derr == nil && d >= 100*time.Millisecond && d <= time.Minute))
		switch {
		case valid && (code != 0 || !strings.Contains(out.String(), "plan ")):
			t.Fatalf("%q: code %d\n%s\n%s", args, code, out.String(), errb.String())
		case !valid && (code != 2 || errb.Len() == 0):
			t.Fatalf("%q accepted or unexplained: code %d %q", args, code, errb.String())
		}
	})
}

func writeConfigF(f *testing.F) string {
	b, _ := json.Marshal(map[string]any{"environment": "dev", "domainName": "example.com", "alarmEmail": "a@example.com"})
	p := filepath.Join(f.TempDir(), "env.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		f.Fatal(err)
	}
	return p
}

// A drill whose failover replays the journal writes report.txt with the
// replayed payments counted and pointing to report.json, which lists them.
func TestDrillReportCountsTheReplayedPayments(t *testing.T) {
	w := drfake.NewWorld()
	w.Replicate, w.Journal = false, true
	dir := t.TempDir()
	r := runCLI(t, w, "", "drill", "-config", writeConfig(t, false), "--unplanned", "--yes", "--interval", "100ms", "--report-dir", dir)
	if r.code != 0 {
		t.Fatalf("%d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run, _ := filepath.Glob(filepath.Join(dir, "drill-*"))
	if len(run) != 1 {
		t.Fatalf("runs %v", run)
	}
	js, _ := os.ReadFile(filepath.Join(run[0], "report.json"))
	var rep struct{ Values map[string]string }
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	keys := strings.Fields(rep.Values[dr.ReplayedKeysKey])
	txt, _ := os.ReadFile(filepath.Join(run[0], "report.txt"))
	want := fmt.Sprintf("%s: %d, listed in report.json (values.%s)\n", dr.ReplayedKeysKey, len(keys), dr.ReplayedKeysKey)
	if len(keys) == 0 || !strings.Contains(string(txt), want) || strings.Contains(string(txt), keys[0]) {
		t.Errorf("report.txt lacks %q or lists the keys (%d in report.json):\n%s", want, len(keys), txt)
	}
}

// A connection with a clock offset (the lab's clock-offset drctl) shifts
// every time drctl reads, and says so.
func TestTheConnectionsClockOffsetShiftsDrctlsClock(t *testing.T) {
	cfg := writeConfig(t, false)
	w := drfake.NewWorld()
	var out, errb bytes.Buffer
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	code := Main([]string{"status", "-config", cfg, "--json"}, Deps{Stdout: &out, Stderr: &errb, Poll: time.Millisecond,
		Now: func() time.Time { return now },
		Connect: func(context.Context, config.Config, Options) (Conn, error) {
			return Conn{Cloud: w, ClockOffset: -time.Hour}, nil
		}})
	var st struct{ At time.Time }
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status --json (exit %d, %s): %v", code, errb.String(), err)
	}
	if !st.At.Equal(now.Add(-time.Hour)) || !strings.Contains(errb.String(), "clock runs -1h0m0s off") {
		t.Errorf("status at %s (machine %s), stderr %q", st.At, now, errb.String())
	}
}
