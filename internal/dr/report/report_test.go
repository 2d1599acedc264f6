package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/journal"
	"github.com/payment-dr/payment-dr/internal/dr/measure"
)

var t0 = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)

func TestReportJudgesTheDrillAgainstObjectives(t *testing.T) {
	run := &journal.Run{ID: "drill-20261125T040000Z-us-west-2", Kind: "drill", Target: "us-west-2", Env: "dev", Created: t0, Steps: []journal.Step{
		{Name: "preflight", Started: t0, Ended: t0.Add(time.Second), Attempts: 1},
		{Name: "promote", Started: t0.Add(time.Second), Ended: t0.Add(40 * time.Second), Attempts: 1},
	}}
	samples := []measure.Sample{
		{Start: t0, End: t0.Add(100 * time.Millisecond), OK: true, ID: "a"},
		{Start: t0.Add(2 * time.Second), End: t0.Add(2100 * time.Millisecond), Err: "503 <region_read_only> & more"},
		{Start: t0.Add(50 * time.Second), End: t0.Add(50100 * time.Millisecond), OK: true, ID: "b"},
	}
	res := measure.Measure(samples, t0.Add(time.Second), "us-west-2", map[string]bool{"a": true})
	r := Build(run, Objectives{RTO: 30 * time.Second, RPO: 5 * time.Second}, &res, samples)
	if !r.Succeeded || *r.RTOMet || !*r.RPOMet || r.End != t0.Add(50100*time.Millisecond) {
		t.Fatalf("%+v rto met %v rpo met %v", r, *r.RTOMet, *r.RPOMet)
	}
	var txt bytes.Buffer
	r.WriteText(&txt)
	for _, want := range []string{"RTO measured 48.1s (objective 30s): MISSED", "RPO measured 900ms (objective 5s): met", "lost after failover: 1"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	var svg bytes.Buffer
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG not well-formed (escaping?): %v", err)
		}
	}
}

func TestUnfinishedRunIsNotASuccess(t *testing.T) {
	run := &journal.Run{ID: "switchover-20261125T040000Z-us-west-2", Kind: "switchover", Created: t0, Steps: []journal.Step{
		{Name: "preflight", Started: t0, Ended: t0.Add(time.Second)},
		{Name: "switch-writer", Started: t0.Add(time.Second), Ended: t0.Add(2 * time.Second), Error: "AccessDenied"},
	}}
	r := Build(run, Objectives{}, nil, nil)
	var txt bytes.Buffer
	r.WriteText(&txt)
	if r.Succeeded || !strings.Contains(txt.String(), "DID NOT COMPLETE") || !strings.Contains(txt.String(), "FAILED: AccessDenied") {
		t.Errorf("%s", txt.String())
	}
}

var updateExample = flag.Bool("update-example", false, "rewrite docs/example-drill/ from the scripted timeline below")

// exampleDrill is a scripted, realistic unplanned-failover drill: canaries
// every second; the writer moves at +12 s; writes fail until the new
// primary takes them at +61 s; the two writes acknowledged just before the
// failover had not replicated.
func exampleDrill() (*journal.Run, []measure.Sample, measure.Result) {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s*1000) * time.Millisecond) }
	steps := []struct {
		name       string
		start, end float64
	}{{"preflight", 10, 10.8}, {"record-lag", 10.8, 11.9}, {"promote", 12, 14.5}, {"wait-topology", 14.5, 47}, {"verify-writes", 47, 58}, {"update-parameters", 58, 58.6}, {"verify-dns", 58.6, 83}}
	run := &journal.Run{ID: "drill-20261125T040000Z-us-west-2", Kind: "drill", Target: "us-west-2", Env: "dev", Created: t0,
		Values: map[string]string{"lagAtFailoverMs": "1850"}}
	for _, s := range steps {
		run.Steps = append(run.Steps, journal.Step{Name: s.name, Started: at(s.start), Ended: at(s.end), Attempts: 1})
	}
	var samples []measure.Sample
	missing := map[string]bool{}
	for i := 0; i < 95; i++ {
		s := measure.Sample{Key: "canary", Start: at(float64(i)), End: at(float64(i) + 0.15), OK: i < 12 || i >= 61, ID: "p" + time.Duration(i).String()}
		if !s.OK {
			s.ID, s.Err = "", "POST /payments: 503 region_read_only"
		}
		if i == 10 || i == 11 {
			missing[s.ID] = true
		}
		samples = append(samples, s)
	}
	return run, samples, measure.Measure(samples, at(12), "us-west-2", missing)
}

func TestExampleReport(t *testing.T) {
	run, samples, res := exampleDrill()
	r := Build(run, Objectives{RTO: 120 * time.Second, RPO: 60 * time.Second}, &res, samples)
	if res.RTO != 49150*time.Millisecond || len(res.Lost) != 2 || res.RPO != 1850*time.Millisecond {
		t.Fatalf("RTO %s lost %d RPO %s", res.RTO, len(res.Lost), res.RPO)
	}
	var txt, js, svg bytes.Buffer
	r.WriteText(&txt)
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	if !*updateExample {
		return
	}
	dir := filepath.Join("..", "..", "..", "docs", "example-drill")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"report.txt": txt.Bytes(), "report.json": js.Bytes(), "report.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// No verdict on incomplete data.
func TestRPOUnknownWhenReadBackFailed(t *testing.T) {
	run := &journal.Run{ID: "drill-20261125T040000Z-us-west-2", Kind: "drill", Target: "us-west-2", Env: "dev", Values: map[string]string{}}
	res := &measure.Result{Writes: 10, RPOUnknown: "RPO unknown: 1 of 9 acknowledged writes could not be read back"}
	r := Build(run, Objectives{RTO: time.Minute, RPO: time.Second}, res, nil)
	var txt, svg strings.Builder
	r.WriteText(&txt)
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	if r.RPOMet != nil || !strings.Contains(txt.String(), "RPO unknown") || strings.Contains(txt.String(), "RPO measured") || !strings.Contains(svg.String(), "unknown") {
		t.Errorf("%v\n%s", r.RPOMet, txt.String())
	}
}
