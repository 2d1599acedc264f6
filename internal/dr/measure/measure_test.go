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
	// A write acknowledged after the failover that is missing is a bug in
	// the new primary, not replication loss: it must not count toward RPO.
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
