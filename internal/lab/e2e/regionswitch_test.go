package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labcloud"
)

// automaticFailover: the writer's Region is lost and no drctl command
// runs; the lab's Region switch runs the plan make synth wrote, started by
// its trigger with the approval granted (arc-triggers auto). Every
// acknowledged payment is in the new writer before the old Region returns,
// and the custom actions' journal says what the replay re-applied.
func automaticFailover(l *lab) {
	t := l.t
	st := l.status()
	if st.RegionSwitch.Plan == "" {
		t.Skipf("the lab runs no Region switch plan (%s): make synth writes cdk.out, and make test synthesizes first", st.RegionSwitch.Error)
	}
	l.resyncIfDiverged(st.Cluster.Writer)
	old := l.status().Cluster.Writer
	target := "us-west-2"
	if old == target {
		target = "us-east-1"
	}
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	wait := l.load(100, 10*time.Second, acks)
	time.Sleep(2 * time.Second)
	l.must(l.drlab("fault", "--dir", l.dir, labapi.ARCTriggers, labapi.TriggersAuto))
	l.must(l.drlab("fault", "--dir", l.dir, labapi.RegionDown, old))
	cut := time.Now()
	var x *labapi.RegionSwitchRun
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if x = l.status().RegionSwitch.Latest; x != nil && x.Region == target && x.Started.After(cut.Add(-time.Second)) && (x.State == arcexec.StateCompleted || x.State == arcexec.StateFailed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no execution of the plan completed after region-down %s: %+v", old, x)
		}
	}
	wait()
	l.must(l.drlab("fault", "--dir", l.dir, labapi.ARCTriggers, labapi.TriggersOff))
	if x.State != arcexec.StateCompleted || x.Mode != arcplan.Ungraceful {
		t.Fatalf("execution %+v", x)
	}
	v := l.verify(acks, "")
	if !v.OK || v.Writer != target || v.Present != v.Acked {
		t.Fatalf("verify before %s returned: %+v", old, v)
	}
	data, err := os.ReadFile(filepath.Join(labcloud.MirrorDir(l.dir), arcexec.RunID(arcplan.KindFailover, x.Started, x.ID)+".json"))
	if err != nil {
		t.Fatalf("the custom actions' journal: %v", err)
	}
	var j struct {
		Completed bool              `json:"completed"`
		Values    map[string]string `json:"values"`
	}
	if err := json.Unmarshal(data, &j); err != nil || !j.Completed || j.Values[dr.WriterEpochKey] == "" {
		t.Fatalf("journal: %v %s", err, data)
	}
	replayed, _ := strconv.Atoi(j.Values[dr.ReplayedCountKey])
	t.Logf("trigger %s after the fault, acked %d, all in %s before %s returned; replayed %d", x.Started.Sub(cut).Round(time.Millisecond), v.Acked, target, old, replayed)
	l.must(l.drlab("fault", "--dir", l.dir, labapi.RegionUp, old))
	l.resyncIfDiverged(old)
	// The plan's post-recovery workflow: drctl rejoin's steps, compare-data
	// reading the returned Region's kept data, run by the lab's Region
	// switch and followed by drctl, which prints the custom actions' journal.
	out := l.must(l.drctl("rejoin", "--region", old, "--via", "arc", "--yes", "--report-dir", t.TempDir()))
	if !strings.Contains(out, "completed") || !strings.Contains(out, dr.OldPrimaryOnlyKey) {
		t.Fatalf("rejoin --via arc:\n%s", out)
	}
}
