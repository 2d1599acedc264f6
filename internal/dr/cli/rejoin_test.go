package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/report"
)

// drctl rejoin is a plan like the moves: dry run, confirmation of the
// Region, journal and report, and it refuses the writer's Region.
func TestRejoinCommand(t *testing.T) {
	cfg := writeConfig(t, false)
	if r := runCLI(t, nil, "", "rejoin", "-config", cfg); r.code != 2 || !strings.Contains(r.stderr, "rejoin needs --region REGION") {
		t.Errorf("no --region: %d %q", r.code, r.stderr)
	}
	r := runCLI(t, nil, "", "rejoin", "-config", cfg, "--region", "us-east-1", "--dry-run")
	for _, want := range []string{"plan rejoin -> us-east-1 (7 steps)", "fence-service", "confirm-fenced", "wait-caught-up", "update-parameters", "compare-data", "lift-fence", "lambda:PutFunctionConcurrency"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
		}
	}
	w := drfake.NewWorld()
	dir := t.TempDir()
	if r := runCLI(t, w, "", "rejoin", "-config", cfg, "--region", "us-east-1", "--yes", "--report-dir", dir); r.code != 2 || !strings.Contains(r.stderr, "holds the writer") || w.Called("FenceWrites") != 0 {
		t.Errorf("rejoin of the writer: %d %q", r.code, r.stderr)
	}
	w.Writer = "us-west-2"
	w.Fenced["us-east-1"] = true
	w.Params["us-east-1"]["/payment/dev/dr/active-region"] = "us-east-1"
	if r := runCLI(t, w, "us-west-2\n", "rejoin", "-config", cfg, "--region", "us-east-1", "--report-dir", dir); r.code == 0 || !strings.Contains(r.stderr, `expected "us-east-1"`) {
		t.Errorf("wrong confirmation: %d %q", r.code, r.stderr)
	}
	r = runCLI(t, w, "us-east-1\n", "rejoin", "-config", cfg, "--region", "us-east-1", "--report-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "is fenced, checked and made a standby of the writer in us-west-2") {
		t.Fatalf("rejoin: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if w.Fenced["us-east-1"] || w.Params["us-east-1"]["/payment/dev/dr/active-region"] != "us-west-2" {
		t.Errorf("fenced %v params %v", w.Fenced, w.Params["us-east-1"])
	}
	m, _ := filepath.Glob(filepath.Join(dir, "rejoin-*", "report.json"))
	if len(m) != 1 {
		t.Fatalf("reports %v", m)
	}
	b, _ := os.ReadFile(m[0])
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil || !rep.Succeeded || rep.Kind != "rejoin" || rep.Values["fence-us-east-1"] != "lifted" {
		t.Errorf("report %v %+v", err, rep)
	}
}
