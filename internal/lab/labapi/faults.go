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
	JournalCut        = "journal-cut"
	JournalRestore    = "journal-restore"
	DBFreeze          = "db-freeze"
	DBThaw            = "db-thaw"
	ClockOffset       = "clock-offset"
	FailoverFence     = "failover-fence"
	ARCTriggers       = "arc-triggers"
)

// Modes of arc-triggers: whether the lab's Region switch evaluates the
// plan's triggers, and who grants its manual approvals.
const (
	TriggersOff = "off"
	// TriggersApprove: triggers fire; an execution waits for drctl approve.
	TriggersApprove = "approve"
	// TriggersAuto: triggers fire and the lab grants approvals (drlab up
	// --auto-failover).
	TriggersAuto = "auto"
)

// Modes of failover-fence: how the lab's Aurora treats the old primary in
// an unplanned failover.
const (
	// FenceBestEffort: made read-only if it answers within a second.
	FenceBestEffort = "best-effort"
	// FenceTopologyOnly: left as it is; only the topology changes, so a
	// partitioned or frozen old primary keeps a writable database and only
	// the journal's writer record stops its service.
	FenceTopologyOnly = "topology-only"
)

// DrctlClock names drctl's clock to clock-offset (a Region names its
// payment service's).
const DrctlClock = "drctl"

// Arguments a fault takes.
const (
	NoArg       = ""
	RegionArg   = "REGION"
	DurationArg = "DURATION"
	// MembersArg is two distinct members of the journal: the two Regions
	// and the witness.
	MembersArg = "MEMBER MEMBER"
	// ClockArg is a clock (a Region's payment service or drctl) and its
	// offset from the machine's.
	ClockArg = "REGION|drctl OFFSET"
	// FenceModeArg is a failover-fence mode.
	FenceModeArg = FenceBestEffort + "|" + FenceTopologyOnly
	// TriggerModeArg is an arc-triggers mode.
	TriggerModeArg = TriggersOff + "|" + TriggersApprove + "|" + TriggersAuto
)

// Writable is region-up's flag: the old primary of an unplanned failover
// comes back with its database accepting writes (Aurora's fence of it
// failed) until Aurora rejoins it as a replica.
const Writable = "--writable"

// FaultSpec is one fault kind, the argument it takes and its flags.
type FaultSpec struct {
	Kind  string
	Arg   string   // NoArg, RegionArg, DurationArg, MembersArg, ClockArg, FenceModeArg or TriggerModeArg
	Flags []string // flags allowed before the argument
}

// Faults are the kinds the daemon accepts, in the order usage lists them.
var Faults = []FaultSpec{
	{RegionDown, RegionArg, nil}, {RegionUp, RegionArg, []string{Writable}}, {LinkCut, NoArg, nil}, {LinkRestore, NoArg, nil},
	{LinkLatency, DurationArg, nil}, {ReplicationStall, NoArg, nil}, {ReplicationResume, NoArg, nil},
	{Partition, RegionArg, nil}, {PartitionHeal, RegionArg, nil}, {WitnessDown, NoArg, nil}, {WitnessUp, NoArg, nil},
	{JournalCut, MembersArg, nil}, {JournalRestore, MembersArg, nil}, {DBFreeze, RegionArg, nil}, {DBThaw, RegionArg, nil},
	{ClockOffset, ClockArg, nil}, {FailoverFence, FenceModeArg, nil}, {ARCTriggers, TriggerModeArg, nil},
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
// latency (link-latency only). A fault naming journal members needs the
// witness's name too: see ParseIn.
func (r FaultRequest) Parse(regions []string) (time.Duration, error) {
	return r.ParseIn(Targets{Regions: regions})
}

// Targets are what a fault's arguments may name: the lab's two Regions
// and the journal's witness member.
type Targets struct {
	Regions []string
	Witness string // "" when unknown: then only the Regions are members
}

// Members are the journal's members: the Regions and the witness.
func (t Targets) Members() []string {
	if t.Witness == "" {
		return t.Regions
	}
	return append(slices.Clone(t.Regions), t.Witness)
}

// ParseIn validates r against t and returns its latency (link-latency
// only).
func (r FaultRequest) ParseIn(t Targets) (time.Duration, error) {
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
	case spec.Arg == MembersArg:
		return 0, r.parseMembers(args, t.Members())
	case spec.Arg == ClockArg:
		return r.parseClock(args, t.Regions)
	case spec.Arg != NoArg && len(args) != 1:
		return 0, fmt.Errorf("%s takes one argument: %s", r.Kind, spec.Arg)
	case spec.Arg == RegionArg && !slices.Contains(t.Regions, args[0]):
		return 0, fmt.Errorf("%s: %q is not a Region of the lab (%s)", r.Kind, args[0], strings.Join(t.Regions, " or "))
	case spec.Arg == DurationArg:
		return ParseLatency(args[0])
	case spec.Arg == FenceModeArg && args[0] != FenceBestEffort && args[0] != FenceTopologyOnly:
		return 0, fmt.Errorf("%s: %q is not a mode (%s or %s)", r.Kind, args[0], FenceBestEffort, FenceTopologyOnly)
	case spec.Arg == TriggerModeArg && !slices.Contains([]string{TriggersOff, TriggersApprove, TriggersAuto}, args[0]):
		return 0, fmt.Errorf("%s: %q is not a mode (%s, %s or %s)", r.Kind, args[0], TriggersOff, TriggersApprove, TriggersAuto)
	}
	return 0, nil
}

// parseMembers checks MembersArg's two distinct journal members.
func (r FaultRequest) parseMembers(args, members []string) error {
	if len(args) != 2 {
		return fmt.Errorf("%s takes two arguments: %s (two of %s)", r.Kind, MembersArg, strings.Join(members, ", "))
	}
	for _, a := range args {
		if !slices.Contains(members, a) {
			return fmt.Errorf("%s: %q is not a member of the journal (%s)", r.Kind, a, strings.Join(members, ", "))
		}
	}
	if args[0] == args[1] {
		return fmt.Errorf("%s: %s twice; name two different members of the journal (%s)", r.Kind, args[0], strings.Join(members, ", "))
	}
	return nil
}

// parseClock checks ClockArg: drctl or a Region, and an offset.
func (r FaultRequest) parseClock(args, regions []string) (time.Duration, error) {
	clocks := append([]string{DrctlClock}, regions...)
	if len(args) != 2 {
		return 0, fmt.Errorf("%s takes two arguments: %s (a clock of %s, and an offset such as 30s or -2m; 0 ends it)", r.Kind, ClockArg, strings.Join(clocks, ", "))
	}
	if !slices.Contains(clocks, args[0]) {
		return 0, fmt.Errorf("%s: %q is not a clock of the lab (%s)", r.Kind, args[0], strings.Join(clocks, ", "))
	}
	return ParseClockOffset(args[1])
}

// MaxClockOffset bounds a clock-offset (the payment service accepts as
// much, LAB_CLOCK_OFFSET).
const MaxClockOffset = 24 * time.Hour

// ParseClockOffset parses a clock's offset: a Go duration within
// ±MaxClockOffset, in whole milliseconds.
func ParseClockOffset(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("clock offset %q: want a duration such as 30s or -2m", s)
	case d.Abs() > MaxClockOffset:
		return 0, fmt.Errorf("clock offset %s: want at most %s either way", d, MaxClockOffset)
	case d%time.Millisecond != 0:
		return 0, fmt.Errorf("clock offset %s: want whole milliseconds", d)
	}
	return d, nil
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
