package labapi

import (
	"fmt"
	"slices"
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
	WitnessDown       = "witness-down"
	WitnessUp         = "witness-up"
)

// Arguments a fault takes.
const (
	NoArg       = ""
	RegionArg   = "REGION"
	DurationArg = "DURATION"
)

// Writable is region-up's flag: the old primary of an unplanned failover
// comes back with its database accepting writes (Aurora's fence of it
// failed) until Aurora rejoins it as a replica.
const Writable = "--writable"

// FaultSpec is one fault kind, the argument it takes and its flags.
type FaultSpec struct {
	Kind  string
	Arg   string   // NoArg, RegionArg or DurationArg
	Flags []string // flags allowed before the argument
}

// Faults are the kinds the daemon accepts, in the order usage lists them.
var Faults = []FaultSpec{
	{RegionDown, RegionArg, nil}, {RegionUp, RegionArg, []string{Writable}}, {LinkCut, NoArg, nil}, {LinkRestore, NoArg, nil},
	{LinkLatency, DurationArg, nil}, {ReplicationStall, NoArg, nil}, {ReplicationResume, NoArg, nil},
	{Partition, RegionArg, nil}, {PartitionHeal, RegionArg, nil}, {WitnessDown, NoArg, nil}, {WitnessUp, NoArg, nil},
}

// Usage is the kind with its flags and argument, e.g. region-up
// [--writable] REGION.
func (f FaultSpec) Usage() string {
	s := f.Kind
	for _, fl := range f.Flags {
		s += " [" + fl + "]"
	}
	return strings.TrimSpace(s + " " + f.Arg)
}

// FaultUsage lists the kinds with their arguments, for messages.
func FaultUsage() string {
	var s []string
	for _, f := range Faults {
		s = append(s, f.Usage())
	}
	return strings.Join(s, ", ")
}

// Has reports whether the request carries flag.
func (r FaultRequest) Has(flag string) bool { return slices.Contains(r.Args, flag) }

// Positional is the request's arguments without its flags.
func (r FaultRequest) Positional() []string {
	var out []string
	for _, a := range r.Args {
		if !strings.HasPrefix(a, "--") {
			out = append(out, a)
		}
	}
	return out
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
	for _, a := range r.Args {
		if strings.HasPrefix(a, "--") && !slices.Contains(spec.Flags, a) {
			return 0, fmt.Errorf("%s: unknown flag %s (usage: %s)", r.Kind, a, spec.Usage())
		}
	}
	args := r.Positional()
	switch {
	case spec.Arg == NoArg && len(args) != 0:
		return 0, fmt.Errorf("%s takes no argument", r.Kind)
	case spec.Arg != NoArg && len(args) != 1:
		return 0, fmt.Errorf("%s takes one argument: %s", r.Kind, spec.Arg)
	case spec.Arg == RegionArg && args[0] != regions[0] && args[0] != regions[1]:
		return 0, fmt.Errorf("%s: %q is not a Region of the lab (%s or %s)", r.Kind, args[0], regions[0], regions[1])
	case spec.Arg == DurationArg:
		return ParseLatency(args[0])
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
