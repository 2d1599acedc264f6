// Package measure turns a drill's canary writes into the recovery time
// and data loss achieved.
package measure

import (
	"sort"
	"time"
)

// Sample is one canary write.
type Sample struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"` // when the API answered (acknowledged or failed)
	OK    bool      `json:"ok"`
	ID    string    `json:"id,omitempty"`
	Err   string    `json:"error,omitempty"`
}

// Result is what a drill achieved.
type Result struct {
	Writes int `json:"writes"`
	Failed int `json:"failed"`
	// FirstFailure is the start of the first failed write; Recovered the
	// acknowledgement of the first successful write after it.
	FirstFailure time.Time `json:"firstFailure,omitzero"`
	Recovered    time.Time `json:"recovered,omitzero"`
	// RTO is Recovered - FirstFailure (0 when no write failed).
	RTO time.Duration `json:"rtoNs"`
	// Unrecovered: a write failed and none succeeded afterwards.
	Unrecovered bool `json:"unrecovered"`
	// FailoverAt is when the writer started to move.
	FailoverAt time.Time `json:"failoverAt,omitzero"`
	// Lost are writes acknowledged before FailoverAt and missing after.
	Lost []Sample `json:"lost,omitempty"`
	// RPO is FailoverAt minus the oldest lost acknowledgement: the window
	// of acknowledged data that did not survive (0 when none was lost).
	RPO time.Duration `json:"rpoNs"`
}

// Measure computes the result. missing reports, for an acknowledged
// write's payment id, that the new primary does not have it.
func Measure(samples []Sample, failoverAt time.Time, missing map[string]bool) Result {
	s := append([]Sample(nil), samples...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Start.Before(s[j].Start) })
	r := Result{Writes: len(s), FailoverAt: failoverAt}
	for _, x := range s {
		if !x.OK {
			r.Failed++
			if r.FirstFailure.IsZero() {
				r.FirstFailure = x.Start
			}
		}
	}
	if !r.FirstFailure.IsZero() {
		for _, x := range s {
			if x.OK && x.Start.After(r.FirstFailure) && (r.Recovered.IsZero() || x.End.Before(r.Recovered)) {
				r.Recovered = x.End
			}
		}
		if r.Recovered.IsZero() {
			r.Unrecovered = true
		} else {
			r.RTO = r.Recovered.Sub(r.FirstFailure)
		}
	}
	var oldest time.Time
	for _, x := range s {
		if x.OK && !x.End.After(failoverAt) && missing[x.ID] {
			r.Lost = append(r.Lost, x)
			if oldest.IsZero() || x.End.Before(oldest) {
				oldest = x.End
			}
		}
	}
	if !oldest.IsZero() {
		r.RPO = failoverAt.Sub(oldest)
	}
	return r
}
