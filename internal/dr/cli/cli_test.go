package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
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
		Connect: func(context.Context, config.Config, Options) (dr.Cloud, dr.Canary, error) {
			r.connected = true
			if w == nil {
				t.Fatal("the command reached AWS")
			}
			return w, drfake.Canary{W: w}, nil
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
	for _, want := range []string{"plan failover -> us-west-2 (7 steps)", "record-lag", "FailoverGlobalCluster", "AllowDataLoss=true", "verify-dns"} {
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

func TestFailedRunSaysHowToResume(t *testing.T) {
	w := drfake.NewWorld()
	w.FailPut["us-east-1"] = 1
	dir := t.TempDir()
	cfg := writeConfig(t, false)
	r := runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "step update-parameters") || !strings.Contains(r.stderr, "--resume switchover-") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
	id := r.stderr[strings.Index(r.stderr, "--resume ")+len("--resume ") : strings.LastIndex(r.stderr, ")")]
	if r := runCLI(t, w, "", "failover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir, "--resume", id); r.code != 2 || !strings.Contains(r.stderr, "is a switchover to us-west-2") {
		t.Errorf("resume as another kind: %d %q", r.code, r.stderr)
	}
	r = runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir, "--resume", id)
	if r.code != 0 || !strings.Contains(r.stdout, "= switch-writer: done") || w.Called("SwitchoverGlobalCluster") != 1 {
		t.Fatalf("resume: %d\n%s\n%s", r.code, r.stdout, r.stderr)
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
	for _, want := range []string{"RTO measured", "RPO measured", "lost after failover"} {
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
