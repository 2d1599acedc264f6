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
	// Region is the Region that recorded the payment (from the answer).
	Region string `json:"region,omitempty"`
	Err    string `json:"error,omitempty"`
	// Amount is the payment's amount in minor units.
	Amount int64 `json:"amount,omitempty"`
}

// CanaryAmount is the amount of every canary payment (minor units).
const CanaryAmount = 1

// Result is what a drill achieved.
type Result struct {
	Writes int `json:"writes"`
	Failed int `json:"failed"`
	// Target is the Region the writer moved to (the new primary).
	Target string `json:"target"`
	// FirstFailure is the start of the first failed write of the outage;
	// Recovered the acknowledgement of the first write recorded by the
	// new primary after it.
	FirstFailure time.Time `json:"firstFailure,omitzero"`
	Recovered    time.Time `json:"recovered,omitzero"`
	// RTO is Recovered - FirstFailure (0 when no write failed).
	RTO time.Duration `json:"rtoNs"`
	// Unrecovered: writes failed and none succeeded in the new primary.
	Unrecovered bool `json:"unrecovered"`
	// FailoverAt is when the writer started to move.
	FailoverAt time.Time `json:"failoverAt,omitzero"`
	// Lost are acknowledged writes the new primary does not have, whenever
	// they were acknowledged (after the request too: a split brain).
	Lost []Sample `json:"lost,omitempty"`
	// FirstLost and LastLost are the first and last lost acknowledgements;
	// LostAmount the sum of the lost payments' amounts.
	FirstLost  time.Time `json:"firstLost,omitzero"`
	LastLost   time.Time `json:"lastLost,omitzero"`
	LostAmount int64     `json:"lostAmount"`
	// RPO is the data-loss window reported: the larger of CanaryRPO and
	// the replication lag recorded when the writer moved (BoundByLag).
	RPO time.Duration `json:"rpoNs"`
	// CanaryRPO is the window of acknowledged canaries that did not
	// survive: from the first lost acknowledgement to the later of the
	// move and the last lost one (0 when none was lost).
	CanaryRPO time.Duration `json:"canaryRpoNs"`
	// FirstCanaryLost: the oldest canary acknowledged before the move is
	// lost too, so the loss began before the canaries did and they cannot
	// bound it.
	FirstCanaryLost bool `json:"firstCanaryLost,omitempty"`
	// LagAtFailover is the replication lag recorded when the writer moved
	// (nil when none was recorded); LagUnknown why it could not be read.
	LagAtFailover *time.Duration `json:"lagAtFailoverNs,omitempty"`
	LagUnknown    string         `json:"lagUnknown,omitempty"`
	// RPOLowerBound: the true loss window may be longer than RPO (the
	// canaries cannot bound it); RPOBoundBy names the figure RPO is.
	RPOLowerBound bool   `json:"rpoLowerBound,omitempty"`
	RPOBoundBy    string `json:"rpoBoundBy,omitempty"`
	// ReadBack is how many acknowledged writes were read back from the
	// new primary; RPOUnknown says why the loss could not be measured
	// (a read that failed), "" when it was.
	ReadBack   int    `json:"readBack"`
	RPOUnknown string `json:"rpoUnknown,omitempty"`
}

// Measure computes the result of a drill whose writer moved to target at
// failoverAt. missing reports, for an acknowledged write's payment id,
// that the new primary does not have it.
//
// RTO: the outage is the run of failed writes that ends with the first
// write the new primary acknowledges (its Region is target; a write whose
// Region is unknown counts when it started at or after failoverAt). It
// starts at the first failure after the last write the old primary
// acknowledged, so a blip minutes before the drill does not inflate it.
//
// RPO: every acknowledged write the new primary does not have that it
// may have lost: acknowledged before failoverAt, or by another Region
// whenever (a split brain after the request). A write the new primary
// itself acknowledged and lacks is not replication loss.
func Measure(samples []Sample, failoverAt time.Time, target string, missing map[string]bool) Result {
	s := append([]Sample(nil), samples...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Start.Before(s[j].Start) })
	r := Result{Writes: len(s), FailoverAt: failoverAt, Target: target}
	inNew := func(x Sample) bool {
		if x.Region != "" {
			return x.Region == target
		}
		return !x.Start.Before(failoverAt)
	}
	recovered := -1
	for i, x := range s {
		if !x.OK {
			r.Failed++
		} else if recovered < 0 && inNew(x) {
			recovered = i
		}
	}
	end := len(s)
	if recovered >= 0 {
		end = recovered
	}
	// The outage starts at the first failure after the last success
	// before the end of the window.
	for i := 0; i < end; i++ {
		switch {
		case s[i].OK:
			r.FirstFailure = time.Time{}
		case r.FirstFailure.IsZero():
			r.FirstFailure = s[i].Start
		}
	}
	if !r.FirstFailure.IsZero() {
		if recovered >= 0 {
			r.Recovered = s[recovered].End
			r.RTO = r.Recovered.Sub(r.FirstFailure)
		} else {
			r.Unrecovered = true
		}
	} else if recovered >= 0 {
		r.Recovered = s[recovered].End
	}
	for _, x := range s {
		if !x.OK || !missing[x.ID] || !mayBeLost(x, failoverAt, target) {
			continue
		}
		r.Lost = append(r.Lost, x)
		r.LostAmount += x.Amount
		if r.FirstLost.IsZero() || x.End.Before(r.FirstLost) {
			r.FirstLost = x.End
		}
		if x.End.After(r.LastLost) {
			r.LastLost = x.End
		}
	}
	if !r.FirstLost.IsZero() {
		end := failoverAt
		if r.LastLost.After(end) {
			end = r.LastLost
		}
		r.CanaryRPO = end.Sub(r.FirstLost)
	}
	r.FirstCanaryLost = firstAckLost(s, failoverAt, missing)
	r.RPO, r.RPOLowerBound, r.RPOBoundBy = r.CanaryRPO, r.FirstCanaryLost, BoundByCanaries
	return r
}

// The figures an RPO can be bounded by.
const (
	BoundByCanaries = "canaries"
	BoundByLag      = "lagAtFailoverMs"
)

// firstAckLost: the oldest write acknowledged before the move is missing.
func firstAckLost(sorted []Sample, failoverAt time.Time, missing map[string]bool) bool {
	for _, x := range sorted {
		if x.OK && !x.End.After(failoverAt) {
			return missing[x.ID]
		}
	}
	return false
}

// BoundByLag folds in the replication lag recorded when the writer moved:
// the writes of that last lag never reached the new primary, so the RPO
// is at least the lag whatever the canaries show.
func (r *Result) BoundByLag(lag time.Duration) {
	r.LagAtFailover = &lag
	if lag > r.RPO {
		r.RPO, r.RPOBoundBy = lag, BoundByLag
	}
}

// mayBeLost: x was acknowledged by a Region other than target, or (its
// Region unknown or target) before the writer moved.
func mayBeLost(x Sample, failoverAt time.Time, target string) bool {
	if x.Region != "" && x.Region != target {
		return true
	}
	return !x.End.After(failoverAt)
}
