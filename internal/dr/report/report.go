// Package report turns a finished run (its journal and, for a drill, the
// canary measurements) into a report: text for the terminal, JSON for
// machines, and an SVG timeline a person can read at a glance.
package report

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/measure"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// Step is one step's line in the report.
type Step struct {
	Name     string        `json:"name"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"durationNs"`
	Attempts int           `json:"attempts"`
	Error    string        `json:"error,omitempty"`
}

// Objectives are the targets the run is judged against.
type Objectives struct {
	RTO time.Duration `json:"rtoNs"`
	RPO time.Duration `json:"rpoNs"`
}

// Report is a finished (or failed) run.
type Report struct {
	RunID      string            `json:"runId"`
	Kind       string            `json:"kind"`
	Target     string            `json:"target"`
	Env        string            `json:"environment"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	Succeeded  bool              `json:"succeeded"`
	Steps      []Step            `json:"steps"`
	Values     map[string]string `json:"values,omitempty"`
	Objectives Objectives        `json:"objectives"`
	Drill      *measure.Result   `json:"drill,omitempty"`
	Samples    []measure.Sample  `json:"samples,omitempty"`
	// RTOMet / RPOMet are set for drills.
	RTOMet *bool `json:"rtoMet,omitempty"`
	RPOMet *bool `json:"rpoMet,omitempty"`
	// ListValues are the keys of Values that hold a space-separated list
	// (a failover's replayed payments: hundreds of base64 keys): the text
	// gives their count and where they are, the JSON keeps them.
	ListValues []string `json:"-"`
}

// Build assembles the report of run. drill and samples are nil unless
// the run was a drill.
func Build(run *runlog.Run, obj Objectives, drill *measure.Result, samples []measure.Sample) Report {
	r := Report{RunID: run.ID, Kind: run.Kind, Target: run.Target, Env: run.Env, Start: run.Created, Values: run.Values,
		Objectives: obj, Drill: drill, Samples: samples, Succeeded: len(run.Steps) > 0}
	for _, s := range run.Steps {
		st := Step{Name: s.Name, Start: s.Started, End: s.Ended, Attempts: s.Attempts, Error: s.Error}
		if !s.Ended.IsZero() {
			st.Duration = s.Ended.Sub(s.Started)
		}
		if !s.Done() {
			r.Succeeded = false
		}
		r.Steps = append(r.Steps, st)
		if s.Ended.After(r.End) {
			r.End = s.Ended
		}
	}
	for _, s := range samples {
		if s.End.After(r.End) {
			r.End = s.End
		}
		if s.Start.Before(r.Start) {
			r.Start = s.Start
		}
	}
	if drill != nil {
		rto := !drill.Unrecovered && drill.RTO <= obj.RTO
		r.RTOMet = &rto
		r.RPOMet = rpoMet(drill, obj.RPO)
	}
	return r
}

// WriteJSON writes the report as JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal.
func (r Report) WriteText(w io.Writer) {
	outcome := "succeeded"
	if !r.Succeeded {
		outcome = "DID NOT COMPLETE"
	}
	fmt.Fprintf(w, "%s %s -> %s (%s): %s, %s\n", r.Kind, r.RunID, r.Target, r.Env, outcome, r.End.Sub(r.Start).Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTART\tEND\tDURATION\tATTEMPTS\tRESULT")
	for _, s := range r.Steps {
		result := "ok"
		if s.Error != "" {
			result = "FAILED: " + s.Error
		} else if s.End.IsZero() {
			result = "interrupted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, clock(s.Start), clock(s.End), s.Duration.Round(time.Millisecond), s.Attempts, result)
	}
	tw.Flush()
	r.writeValues(w)
	if d := r.Drill; d != nil {
		fmt.Fprintf(w, "canary writes: %d, failed: %d, lost after failover: %d\n", d.Writes, d.Failed, len(d.Lost))
		rto := d.RTO.Round(time.Millisecond).String()
		if d.Unrecovered {
			rto = "not recovered"
		}
		fmt.Fprintf(w, "RTO measured %s (objective %s): %s\n", rto, r.Objectives.RTO, verdict(*r.RTOMet))
		r.writeRPO(w, d)
		writeLost(w, d)
	}
}

// writeValues prints the run's values sorted by key, a list as its
// count and where the JSON report keeps it.
func (r Report) writeValues(w io.Writer) {
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := r.Values[k]
		if slices.Contains(r.ListValues, k) {
			v = fmt.Sprintf("%d, listed in report.json (values.%s)", len(strings.Fields(v)), k)
		}
		fmt.Fprintf(w, "%s: %s\n", k, v)
	}
}

// rpoMet judges the RPO on the larger of the canaries' window and the lag
// at failover. No verdict on incomplete data: a read-back that failed, or
// a lower bound within the objective with no lag to bound it.
func rpoMet(d *measure.Result, objective time.Duration) *bool {
	met := d.RPO <= objective
	switch {
	case d.RPOUnknown != "":
		return nil
	case met && d.RPOLowerBound && d.LagAtFailover == nil:
		return nil
	}
	return &met
}

// writeRPO prints the RPO, saying when it is only a lower bound and which
// figure it is.
func (r Report) writeRPO(w io.Writer, d *measure.Result) {
	obj := r.Objectives.RPO
	if d.RPOUnknown != "" {
		fmt.Fprintf(w, "RPO unknown (objective %s): %s\n", obj, d.RPOUnknown)
		return
	}
	rpo := d.RPO.Round(time.Millisecond)
	if !d.RPOLowerBound {
		fmt.Fprintf(w, "RPO measured %s (objective %s): %s (%s)\n", rpo, obj, rpoVerdict(r.RPOMet), boundBy(d))
		return
	}
	fmt.Fprintf(w, "RPO at least %s (objective %s): %s — a lower bound: the first canary acknowledged before the move was already lost, so the loss began before the canaries; %s\n",
		rpo, obj, rpoVerdict(r.RPOMet), boundBy(d))
}

// boundBy names the figure the RPO is and the other one.
func boundBy(d *measure.Result) string {
	canaries := fmt.Sprintf("canaries %s", d.CanaryRPO.Round(time.Millisecond))
	switch {
	case d.RPOBoundBy == measure.BoundByLag:
		return fmt.Sprintf("bounded by the replication lag at failover (%s %d; %s)", measure.BoundByLag, d.LagAtFailover.Milliseconds(), canaries)
	case d.LagAtFailover != nil:
		return fmt.Sprintf("bounded by the canaries; %s %d", measure.BoundByLag, d.LagAtFailover.Milliseconds())
	case d.LagUnknown != "":
		return "bounded by the canaries; lag at failover unknown: " + d.LagUnknown
	}
	return "bounded by the canaries; no lag recorded"
}

// writeLost names every lost payment, as drctl reconcile will list them.
func writeLost(w io.Writer, d *measure.Result) {
	if len(d.Lost) == 0 {
		return
	}
	fmt.Fprintf(w, "lost payments: %d, amount %d, first acknowledged %s, last %s\n", len(d.Lost), d.LostAmount, clock(d.FirstLost), clock(d.LastLost))
	for _, l := range d.Lost {
		fmt.Fprintf(w, "  lost %s id %s acknowledged by %s at %s\n", l.Key, l.ID, l.Region, clock(l.End))
	}
}

// svgCanaries draws the lane of canary writes at height y.
func (r Report) svgCanaries(p func(string, ...any), x func(time.Time) float64, y, laneH float64) {
	esc := html.EscapeString
	p(`<text x="10" y="%.1f">canary writes</text>`, y+16)
	lost := map[string]bool{}
	if r.Drill != nil {
		for _, l := range r.Drill.Lost {
			lost[l.ID] = true
		}
	}
	for _, s := range r.Samples {
		xx := x(s.Start)
		switch {
		case lost[s.ID] && s.ID != "":
			p(`<path d="M%.1f %.1f l8 8 m0 -8 l-8 8" stroke="black" stroke-width="2"><title>lost %s</title></path>`, xx-4, y+9)
		case s.OK:
			p(`<rect x="%.1f" y="%.1f" width="3" height="%.1f" fill="#4caf50"/>`, xx-1.5, y+5, laneH-10)
		default:
			p(`<rect x="%.1f" y="%.1f" width="3" height="%.1f" fill="#e53935"><title>%s</title></rect>`, xx-1.5, y+5, laneH-10, esc(s.Err))
		}
	}
}

// svgDrillMarks draws the RTO span and the moment the writer moved.
func (r Report) svgDrillMarks(p func(string, ...any), x func(time.Time) float64, top, axisY, lanesH float64) {
	if d := r.Drill; d != nil {
		if !d.FirstFailure.IsZero() && !d.Recovered.IsZero() {
			x1, x2 := x(d.FirstFailure), x(d.Recovered)
			p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#ff9800" fill-opacity="0.15" stroke="#ff9800"/>`, x1, top-6, math.Max(2, x2-x1), lanesH+12)
			p(`<text x="%.1f" y="%.1f" fill="#e65100" font-weight="bold">RTO %s</text>`, x1+4, top-10, d.RTO.Round(time.Millisecond))
		}
		if !d.FailoverAt.IsZero() {
			xx := x(d.FailoverAt)
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#1e88e5" stroke-dasharray="4 3" stroke-width="2"/>`, xx, top-6, xx, axisY)
			p(`<text x="%.1f" y="%.1f" fill="#1e88e5">writer moves</text>`, xx+4, axisY+32)
		}
	}
}

func rpoVerdict(met *bool) string {
	if met == nil {
		return "unknown"
	}
	return verdict(*met)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

// WriteSVG draws the timeline: one lane per step, a lane of canary writes
// (green acknowledged, red failed, black cross lost), the RTO span and
// the moment the writer moved, with the objectives in the title.
func (r Report) WriteSVG(w io.Writer) error {
	const width, left, right, laneH, top = 1100.0, 190.0, 30.0, 26.0, 70.0
	lanes := len(r.Steps) + 1
	height := top + float64(lanes)*laneH + 80
	start, end := r.Start, r.End
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 {
		if t.IsZero() {
			t = end
		}
		return left + (width-left-right)*math.Max(0, math.Min(1, t.Sub(start).Seconds()/span))
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	esc := html.EscapeString
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`, width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>`)
	title := fmt.Sprintf("%s to %s (%s) — %s", r.Kind, r.Target, r.Env, r.RunID)
	p(`<text x="10" y="22" font-size="16" font-weight="bold">%s</text>`, esc(title))
	sub := fmt.Sprintf("total %s; objectives RTO %s, RPO %s", end.Sub(start).Round(time.Millisecond), r.Objectives.RTO, r.Objectives.RPO)
	if d := r.Drill; d != nil {
		rpo := d.RPO.Round(time.Millisecond).String()
		if d.RPOLowerBound {
			rpo = "≥ " + rpo
		}
		sub += fmt.Sprintf("; measured RTO %s (%s), RPO %s (%s, %s), %d/%d canaries failed, %d lost",
			d.RTO.Round(time.Millisecond), verdict(*r.RTOMet), rpo, rpoVerdict(r.RPOMet), d.RPOBoundBy, d.Failed, d.Writes, len(d.Lost))
	}
	p(`<text x="10" y="42">%s</text>`, esc(sub))

	// Axis with ticks.
	axisY := top + float64(lanes)*laneH + 10
	p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>`, left, axisY, width-right, axisY)
	step := niceStep(span)
	for t := 0.0; t <= span+1e-9; t += step {
		xx := left + (width-left-right)*t/span
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, xx, top-4, xx, axisY)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">+%gs</text>`, xx, axisY+16, t)
	}

	for i, s := range r.Steps {
		y := top + float64(i)*laneH
		color := "#4caf50"
		if s.Error != "" {
			color = "#e53935"
		} else if s.End.IsZero() {
			color = "#ffb300"
		}
		p(`<text x="10" y="%.1f">%s</text>`, y+16, esc(s.Name))
		x1, x2 := x(s.Start), x(s.End)
		p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" rx="3"><title>%s: %s</title></rect>`,
			x1, y+4, math.Max(2, x2-x1), laneH-8, color, esc(s.Name), s.Duration.Round(time.Millisecond))
		p(`<text x="%.1f" y="%.1f" fill="#222">%s</text>`, math.Min(x2+4, width-right-60), y+16, s.Duration.Round(time.Millisecond))
	}

	r.svgCanaries(p, x, top+float64(len(r.Steps))*laneH, laneH)
	r.svgDrillMarks(p, x, top, axisY, float64(lanes)*laneH)
	p(`<text x="10" y="%.1f" fill="#666">green: done / acknowledged · red: failed · amber: interrupted · black ×: acknowledged and missing from the new primary</text>`, height-10)
	p(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep picks a tick spacing giving 5-12 ticks.
func niceStep(span float64) float64 {
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		if span/s <= 12 {
			return s
		}
	}
	return span / 10
}
