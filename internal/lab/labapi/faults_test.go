package labapi

import (
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	regions := []string{"us-east-1", "us-west-2"}
	ok := []FaultRequest{{Kind: "region-down", Args: []string{"us-west-2"}}, {Kind: "link-cut"},
		{Kind: "link-latency", Args: []string{"120ms"}}, {Kind: "replication-stall"}, {Kind: "region-up", Args: []string{"--writable", "us-east-1"}}}
	for _, r := range ok {
		if _, err := r.Parse(regions); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []FaultRequest{{Kind: "region-down"}, {Kind: "region-down", Args: []string{"eu-west-1"}},
		{Kind: "link-cut", Args: []string{"x"}}, {Kind: "link-latency", Args: []string{"-1s"}},
		{Kind: "link-latency", Args: []string{"1.5ms"}}, {Kind: "meteor"}, {Kind: "region-down", Args: []string{"--writable", "us-east-1"}},
		{Kind: "region-up", Args: []string{"--writable"}}, {Kind: "region-up", Args: []string{"--fast", "us-east-1"}}}
	for _, r := range bad {
		if _, err := r.Parse(regions); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func TestParseJournalAndDatabaseFaults(t *testing.T) {
	lab := Targets{Regions: []string{"us-east-1", "us-west-2"}, Witness: "us-east-2"}
	ok := []FaultRequest{{Kind: JournalCut, Args: []string{"us-east-1", "us-west-2"}}, {Kind: JournalCut, Args: []string{"us-east-2", "us-west-2"}},
		{Kind: JournalRestore, Args: []string{"us-west-2", "us-east-2"}}, {Kind: DBFreeze, Args: []string{"us-east-1"}}, {Kind: DBThaw, Args: []string{"us-west-2"}}}
	for _, r := range ok {
		if _, err := r.ParseIn(lab); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []struct {
		r    FaultRequest
		want string // in the message
	}{
		{FaultRequest{Kind: JournalCut}, "takes two arguments: MEMBER MEMBER (two of us-east-1, us-west-2, us-east-2)"},
		{FaultRequest{Kind: JournalCut, Args: []string{"us-east-1"}}, "takes two arguments"},
		{FaultRequest{Kind: JournalRestore, Args: []string{"us-east-1", "us-west-2", "us-east-2"}}, "takes two arguments"},
		{FaultRequest{Kind: JournalCut, Args: []string{"us-east-1", "eu-west-1"}}, `"eu-west-1" is not a member of the journal (us-east-1, us-west-2, us-east-2)`},
		{FaultRequest{Kind: JournalRestore, Args: []string{"us-east-2", "us-east-2"}}, "us-east-2 twice"},
		{FaultRequest{Kind: JournalCut, Args: []string{"--all", "us-east-1", "us-west-2"}}, "unknown flag --all"},
		{FaultRequest{Kind: DBFreeze}, "takes one argument: REGION"},
		{FaultRequest{Kind: DBThaw, Args: []string{"us-east-2"}}, `"us-east-2" is not a Region of the lab (us-east-1 or us-west-2)`},
		{FaultRequest{Kind: DBFreeze, Args: []string{"us-east-1", "us-west-2"}}, "takes one argument"},
	}
	for _, b := range bad {
		_, err := b.r.ParseIn(lab)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: got %v, want an error with %q", b.r, err, b.want)
		}
	}
	// Without the witness's name only the Regions are members.
	if _, err := (FaultRequest{Kind: JournalCut, Args: []string{"us-east-1", "us-east-2"}}).Parse(lab.Regions); err == nil {
		t.Error("journal-cut of an unknown witness accepted")
	}
	for kind, want := range map[string]string{JournalCut: "journal-cut MEMBER MEMBER", JournalRestore: "journal-restore MEMBER MEMBER",
		DBFreeze: "db-freeze REGION", DBThaw: "db-thaw REGION"} {
		if spec, ok := faultSpec(kind); !ok || spec.Usage() != want {
			t.Errorf("usage of %s: %q, want %q", kind, spec.Usage(), want)
		}
		if !strings.Contains(FaultUsage(), want) {
			t.Errorf("FaultUsage lacks %q", want)
		}
	}
}

func FuzzParseLatency(f *testing.F) {
	for _, s := range []string{"35ms", "0", "10s", "1h", "-5ms", "1.5ms", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLatency(s)
		if err != nil {
			return
		}
		if d < 0 || d > 10*time.Second || d%time.Millisecond != 0 {
			t.Fatalf("%q accepted as %s", s, d)
		}
	})
}

func TestParseFailoverFence(t *testing.T) {
	lab := Targets{Regions: []string{"us-east-1", "us-west-2"}}
	for _, m := range []string{FenceBestEffort, FenceTopologyOnly} {
		if _, err := (FaultRequest{Kind: FailoverFence, Args: []string{m}}).ParseIn(lab); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if _, err := (FaultRequest{Kind: FailoverFence, Args: []string{"none"}}).ParseIn(lab); err == nil || !strings.Contains(err.Error(), `"none" is not a mode (best-effort or topology-only)`) {
		t.Errorf("mode none: %v", err)
	}
}

func TestParseClockOffset(t *testing.T) {
	lab := Targets{Regions: []string{"us-east-1", "us-west-2"}, Witness: "us-east-2"}
	for args, want := range map[[2]string]time.Duration{{"drctl", "-1h"}: -time.Hour, {"us-west-2", "30s"}: 30 * time.Second, {"us-east-1", "0"}: 0} {
		if got, err := (FaultRequest{Kind: ClockOffset, Args: args[:]}).ParseIn(lab); err != nil || got != want {
			t.Errorf("%v: %s %v, want %s", args, got, err, want)
		}
	}
	for _, b := range []struct {
		args []string
		want string
	}{
		{nil, "takes two arguments: REGION|drctl OFFSET (a clock of drctl, us-east-1, us-west-2"},
		{[]string{"us-east-2", "1s"}, `"us-east-2" is not a clock of the lab (drctl, us-east-1, us-west-2)`},
		{[]string{"drctl", "soon"}, "want a duration such as 30s"},
		{[]string{"drctl", "25h"}, "at most 24h0m0s either way"},
		{[]string{"drctl", "1.5ms"}, "whole milliseconds"},
	} {
		if _, err := (FaultRequest{Kind: ClockOffset, Args: b.args}).ParseIn(lab); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v: %v, want %q", b.args, err, b.want)
		}
	}
}

func TestParseARCTriggers(t *testing.T) {
	lab := Targets{Regions: []string{"us-east-1", "us-west-2"}}
	for _, m := range []string{TriggersOff, TriggersApprove, TriggersAuto} {
		if _, err := (FaultRequest{Kind: ARCTriggers, Args: []string{m}}).ParseIn(lab); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	for args, want := range map[string]string{"on": `"on" is not a mode (off, approve or auto)`, "": "takes one argument"} {
		var a []string
		if args != "" {
			a = []string{args}
		}
		if _, err := (FaultRequest{Kind: ARCTriggers, Args: a}).ParseIn(lab); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", args, err, want)
		}
	}
}
