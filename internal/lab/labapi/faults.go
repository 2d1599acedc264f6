package labapi

import (
	"fmt"
	"strings"
	"time"
)

// Fault kinds of `drlab fault`, the drill and the daemon.
const (
	RegionDown        = "region-down"
	RegionUp          = "region-up"
	LinkCut           = "link-cut"
	LinkRestore       = "link-restore"
	LinkLatency       = "link-latency"
	ReplicationStall  = "replication-stall"
	ReplicationResume = "replication-resume"
	Partition         = "partition"
	PartitionHeal     = "partition-heal"
)

// Arguments a fault takes.
const (
	NoArg       = ""
	RegionArg   = "REGION"
	DurationArg = "DURATION"
)

// FaultSpec is one fault kind and the argument it takes.
type FaultSpec struct {
	Kind string
	Arg  string // NoArg, RegionArg or DurationArg
}

// Faults are the kinds the daemon accepts, in the order usage lists them.
var Faults = []FaultSpec{
	{RegionDown, RegionArg}, {RegionUp, RegionArg}, {LinkCut, NoArg}, {LinkRestore, NoArg},
	{LinkLatency, DurationArg}, {ReplicationStall, NoArg}, {ReplicationResume, NoArg},
	{Partition, RegionArg}, {PartitionHeal, RegionArg},
}

// FaultUsage lists the kinds with their arguments, for messages.
func FaultUsage() string {
	var s []string
	for _, f := range Faults {
		s = append(s, strings.TrimSpace(f.Kind+" "+f.Arg))
	}
	return strings.Join(s, ", ")
}

func faultSpec(kind string) (FaultSpec, bool) {
	for _, f := range Faults {
		if f.Kind == kind {
			return f, true
		}
	}
	return FaultSpec{}, false
}

// Parse validates r against the lab's two Regions and returns its
// latency (link-latency only).
func (r FaultRequest) Parse(regions []string) (time.Duration, error) {
	spec, ok := faultSpec(r.Kind)
	if !ok {
		return 0, fmt.Errorf("unknown fault %q (kinds: %s)", r.Kind, FaultUsage())
	}
	switch {
	case spec.Arg == NoArg && len(r.Args) != 0:
		return 0, fmt.Errorf("%s takes no argument", r.Kind)
	case spec.Arg != NoArg && len(r.Args) != 1:
		return 0, fmt.Errorf("%s takes one argument: %s", r.Kind, spec.Arg)
	case spec.Arg == RegionArg && r.Args[0] != regions[0] && r.Args[0] != regions[1]:
		return 0, fmt.Errorf("%s: %q is not a Region of the lab (%s or %s)", r.Kind, r.Args[0], regions[0], regions[1])
	case spec.Arg == DurationArg:
		return ParseLatency(r.Args[0])
	}
	return 0, nil
}

// ParseLatency parses a one-way link latency: a Go duration from 0 to 10 s
// in whole milliseconds (Toxiproxy's unit).
func ParseLatency(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("latency %q: want a duration such as 35ms", s)
	case d < 0 || d > 10*time.Second:
		return 0, fmt.Errorf("latency %s: want 0 to 10s", d)
	case d%time.Millisecond != 0:
		return 0, fmt.Errorf("latency %s: want whole milliseconds", d)
	}
	return d, nil
}
