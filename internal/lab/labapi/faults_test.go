package labapi

import (
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
