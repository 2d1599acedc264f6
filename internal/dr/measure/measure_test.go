package measure

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s*1000) * time.Millisecond) }

// A scripted timeline: writes every second; the writer moves at t=10;
// writes fail from t=10 to t=41; the write of t=9 (acknowledged at 9.2)
// and of t=8 were not replicated and are missing afterwards.
func script() ([]Sample, map[string]bool) {
	var s []Sample
	for i := 0; i < 50; i++ {
		x := Sample{Key: "k", Start: at(float64(i)), End: at(float64(i) + 0.2), ID: string(rune('a'+i%26)) + string(rune('0'+i/26)), OK: i < 10 || i > 41}
		if !x.OK {
			x.ID, x.Err = "", "503 region_read_only"
		}
		s = append(s, x)
	}
	return s, map[string]bool{s[8].ID: true, s[9].ID: true}
}

func TestRTOAndRPOOnAScriptedTimeline(t *testing.T) {
	s, missing := script()
	r := Measure(s, at(10), "us-west-2", missing)
	if r.Writes != 50 || r.Failed != 32 {
		t.Errorf("writes %d failed %d", r.Writes, r.Failed)
	}
	// First failure starts at 10; first success after it is the write of
	// 42, acknowledged at 42.2: RTO 32.2 s.
	if r.RTO != 32200*time.Millisecond || !r.FirstFailure.Equal(at(10)) || !r.Recovered.Equal(at(42.2)) {
		t.Errorf("RTO %s (first failure %s, recovered %s)", r.RTO, r.FirstFailure, r.Recovered)
	}
	// Lost: writes acknowledged at 8.2 and 9.2; failover at 10: RPO 1.8 s.
	if len(r.Lost) != 2 || r.RPO != 1800*time.Millisecond {
		t.Errorf("lost %d RPO %s", len(r.Lost), r.RPO)
	}
}

func TestWritesAcknowledgedAfterFailoverAreNotCountedAsLoss(t *testing.T) {
	s, _ := script()
	// A write the new primary acknowledged after the failover that is
	// missing is a bug in the new primary, not replication loss: it must
	// not count toward RPO.
	r := Measure(s, at(10), "us-west-2", map[string]bool{s[45].ID: true})
	if len(r.Lost) != 0 || r.RPO != 0 {
		t.Errorf("lost %v RPO %s", r.Lost, r.RPO)
	}
}

func TestNoFailureMeansZeroRTOAndUnrecoveredIsFlagged(t *testing.T) {
	ok := []Sample{{Start: at(0), End: at(0.1), OK: true, ID: "x"}}
	if r := Measure(ok, at(5), "us-west-2", nil); r.RTO != 0 || r.Unrecovered || r.Failed != 0 {
		t.Errorf("%+v", r)
	}
	bad := append(ok, Sample{Start: at(1), End: at(1.1), Err: "timeout"})
	if r := Measure(bad, at(5), "us-west-2", nil); !r.Unrecovered || r.RTO != 0 {
		t.Errorf("unrecovered not flagged: %+v", r)
	}
}

func TestABlipBeforeTheDrillDoesNotInflateRTO(t *testing.T) {
	var s []Sample
	add := func(start float64, ok bool, region string) {
		x := Sample{Start: at(start), End: at(start + 0.1), OK: ok, Region: region, ID: "id" + time.Duration(start*1000).String()}
		if !ok {
			x.ID, x.Err = "", "timeout"
		}
		s = append(s, x)
	}
	add(0, true, "us-east-1")
	add(1, false, "") // a blip, recovered in the old primary
	add(2, true, "us-east-1")
	add(3, true, "us-east-1")
	add(4, false, "") // the outage: the writer moves at 4
	add(5, false, "")
	add(6, true, "us-east-1") // acknowledged by the old primary: not recovery
	add(7, false, "")
	add(8, true, "us-west-2") // first write in the new primary
	r := Measure(s, at(4), "us-west-2", nil)
	if !r.FirstFailure.Equal(at(7)) || !r.Recovered.Equal(at(8.1)) || r.RTO != 1100*time.Millisecond || r.Failed != 4 {
		t.Errorf("first failure %s recovered %s RTO %s failed %d", r.FirstFailure, r.Recovered, r.RTO, r.Failed)
	}
	// Without the old primary's late success, the outage runs from 4.
	s = append(s[:6], s[7:]...)
	if r := Measure(s, at(4), "us-west-2", nil); r.RTO != 4100*time.Millisecond {
		t.Errorf("RTO %s, want 4.1s", r.RTO)
	}
	// Writes never reach the new primary: unrecovered, whatever the old one did.
	if r := Measure(s[:6], at(4), "us-west-2", nil); !r.Unrecovered || r.RTO != 0 {
		t.Errorf("%+v", r)
	}
}

func FuzzMeasure(f *testing.F) {
	f.Add([]byte{1, 1, 0, 0, 1, 2, 2}, uint8(3))
	f.Fuzz(func(t *testing.T, pattern []byte, failoverIdx uint8) {
		// pattern[i]: 0 failed, 1 acknowledged by the old primary, 2 by the new.
		var s []Sample
		missing := map[string]bool{}
		for i, p := range pattern {
			x := Sample{Start: at(float64(i)), End: at(float64(i) + 0.5), OK: p%3 != 0, ID: string(rune('A' + i%50))}
			x.Region = map[byte]string{1: "us-east-1", 2: "us-west-2"}[p%3]
			if i%2 == 0 {
				missing[x.ID] = true
			}
			s = append(s, x)
		}
		fo := at(float64(failoverIdx % 64))
		r := Measure(s, fo, "us-west-2", missing)
		if r.RTO < 0 || r.RPO < 0 || r.Failed > r.Writes || (r.Unrecovered && r.RTO != 0) {
			t.Fatalf("%+v", r)
		}
		if r.RTO > 0 && (r.Recovered.Before(r.FirstFailure) || r.FirstFailure.IsZero()) {
			t.Fatalf("RTO %s from %s to %s", r.RTO, r.FirstFailure, r.Recovered)
		}
		for _, l := range r.Lost {
			if (l.End.After(fo) && l.Region == "us-west-2") || !l.OK {
				t.Fatalf("lost %+v: acknowledged by the new primary after failover %s", l, fo)
			}
		}
	})
}

// Writes the old primary acknowledged after the failover
// request (split brain) are lost too, and counted with their amount.
func TestSplitBrainWritesAfterTheMoveAreLost(t *testing.T) {
	s := []Sample{
		{Key: "a", ID: "a", Start: at(8), End: at(8.1), OK: true, Region: "us-east-1", Amount: 1},
		{Key: "b", ID: "b", Start: at(11), End: at(11.1), OK: true, Region: "us-east-1", Amount: 5},
		{Key: "c", ID: "c", Start: at(13), End: at(13.1), OK: true, Region: "us-east-1", Amount: 7},
		{Key: "d", ID: "d", Start: at(20), End: at(20.1), OK: true, Region: "us-west-2", Amount: 1},
	}
	r := Measure(s, at(10), "us-west-2", map[string]bool{"a": true, "b": true, "c": true})
	if len(r.Lost) != 3 || r.LostAmount != 13 || !r.FirstLost.Equal(at(8.1)) || !r.LastLost.Equal(at(13.1)) || r.RPO != 5*time.Second {
		t.Errorf("%+v", r)
	}
}

// The RPO is never below the lag recorded at failover; the canaries bound
// it only while an older canary survived.
func TestRPOIsTheLargerOfCanariesAndLag(t *testing.T) {
	s, missing := script() // writes 8 and 9 lost, 0-7 survived
	r := Measure(s, at(10), "us-west-2", missing)
	if r.FirstCanaryLost || r.RPOLowerBound || r.RPOBoundBy != BoundByCanaries {
		t.Errorf("surviving older canaries: %+v", r)
	}
	r.BoundByLag(500 * time.Millisecond)
	if r.RPO != 1800*time.Millisecond || r.RPOBoundBy != BoundByCanaries || *r.LagAtFailover != 500*time.Millisecond {
		t.Errorf("lag below the canaries: RPO %s by %s", r.RPO, r.RPOBoundBy)
	}
	r.BoundByLag(4067 * time.Millisecond)
	if r.RPO != 4067*time.Millisecond || r.RPOBoundBy != BoundByLag || r.CanaryRPO != 1800*time.Millisecond {
		t.Errorf("lag above the canaries: RPO %s by %s", r.RPO, r.RPOBoundBy)
	}
	missing[s[0].ID] = true // the first canary is lost too
	if r := Measure(s, at(10), "us-west-2", missing); !r.FirstCanaryLost || !r.RPOLowerBound {
		t.Errorf("first canary lost: %+v", r)
	}
}
