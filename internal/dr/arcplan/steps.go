package arcplan

import (
	"github.com/payment-dr/payment-dr/internal/config"
)

// StepSpec is one step of a workflow and the drctl steps it runs.
type StepSpec struct {
	Name        string
	Description string
	Block       string
	// Runs maps a drctl plan kind to the drctl step this ARC step is in
	// that plan. A custom action whose execution's kind is not a key does
	// nothing (one workflow serves the graceful switchover and the
	// ungraceful failover, whose drctl plans differ).
	Runs map[string]string
	// GracefulOnly: ARC skips the step in ungraceful mode.
	GracefulOnly   bool
	RegionToRun    string
	TimeoutMinutes float64
}

// MarkMoveStep records the moment the writer starts to move just before
// ARC's Aurora block sends the request (drctl's move step does both).
const MarkMoveStep = "mark-move"

// ApprovalStep is the manual approval's step name (drctl approve).
const ApprovalStep = "approve"

// both runs the drctl step of the same name in a switchover and a failover.
func both(name string) map[string]string {
	return map[string]string{KindSwitchover: name, KindFailover: name}
}

// ActivateSteps is the activate workflow: drctl's switchover and its
// unplanned failover merged in one order, each ARC step running only in
// the executions whose drctl plan holds it. drctl's set-writer-epoch sits
// before the promotion in a failover and after the topology settled in a
// switchover, so it appears twice.
func ActivateSteps(cfg config.Config) []StepSpec {
	lambda := func(name, desc string, runs map[string]string, minutes float64) StepSpec {
		return StepSpec{Name: name, Description: desc, Block: BlockLambda, Runs: runs, RegionToRun: RunInActivating, TimeoutMinutes: minutes}
	}
	var s []StepSpec
	if !cfg.AutoFailover {
		s = append(s, StepSpec{Name: ApprovalStep, Description: "an operator approves the move (drctl approve)", Block: BlockApproval})
	}
	s = append(s,
		lambda("preflight", "the global cluster is available and the activated Region can take the writer", both("preflight"), 5),
		lambda("record-lag", "failover: record the replication lag into the activated Region", map[string]string{KindFailover: "record-lag"}, 5),
		lambda("fence-writes", "failover: fence the deactivated Region's payment service where it answers", map[string]string{KindFailover: "fence-writes"}, 5),
		lambda("set-writer-epoch-first", "failover: the journal's writer record names the activated Region before the promotion", map[string]string{KindFailover: "set-writer-epoch"}, 5),
		lambda(MarkMoveStep, "record the moment the writer starts to move (the replay window starts from it)", map[string]string{KindSwitchover: "switch-writer", KindFailover: "promote"}, 5),
		StepSpec{Name: "move-writer", Description: "Aurora global database: switchover (graceful) or failover with data loss (ungraceful)", Block: BlockAurora,
			Runs: map[string]string{KindSwitchover: "switch-writer", KindFailover: "promote"}, TimeoutMinutes: 30},
		lambda("wait-topology", "the activated Region holds the writer and its cluster is available", both("wait-topology"), 20),
		lambda("confirm-fenced", "failover: the topology no longer names the old primary the writer", map[string]string{KindFailover: "confirm-fenced"}, 10),
		StepSpec{Name: "set-writer-epoch", Description: "switchover: the journal's writer record names the activated Region", Block: BlockLambda,
			Runs: map[string]string{KindSwitchover: "set-writer-epoch"}, GracefulOnly: true, RegionToRun: RunInActivating, TimeoutMinutes: 5},
		lambda("lift-fence", "lift the fence of the activated Region's payment service", both("lift-fence"), 5),
		lambda("replay-journal", "failover: replay the payment journal's committed claims the new writer lacks", map[string]string{KindFailover: "replay-journal"}, 20),
		lambda("verify-writes", "the activated Region's service reports a writable database and itself as the journal's writer", both("verify-writes"), 10),
		lambda("update-parameters", "record the activated Region and its writer endpoint in the DR parameters", both("update-parameters"), 5),
		StepSpec{Name: "route-traffic", Description: "ARC's health checks send the failover name to the activated Region", Block: BlockRoute53, TimeoutMinutes: 10},
		lambda("verify-dns", "the failover name answers with the activated Region and reaches it", both("verify-dns"), 10),
		StepSpec{Name: "wait-standby-sync", Description: "switchover: the old primary replicates from the new writer in sync", Block: BlockLambda,
			Runs: map[string]string{KindSwitchover: "wait-standby-sync"}, GracefulOnly: true, RegionToRun: RunInActivating, TimeoutMinutes: 20},
		lambda("keep-old-data", "failover: keep the old primary's data (the lost writes)", map[string]string{KindFailover: "keep-old-data"}, 5),
	)
	return s
}

// RejoinSteps is the post-recovery workflow: drctl rejoin of the Region
// that is not active, run from the active one.
func RejoinSteps() []StepSpec {
	var s []StepSpec
	for _, st := range []struct{ name, desc string }{
		{"preflight", "another Region holds the writer and no move is in progress"},
		{"fence-service", "fence the returned Region's payment service"},
		{"confirm-fenced", "the returned Region's database no longer holds the writer"},
		{"wait-caught-up", "the returned Region replicates from the writer and caught up"},
		{"update-parameters", "the DR parameters name the writer in both Regions"},
		{"compare-data", "keep the returned Region's old data and compare it with the writer's"},
		{"lift-fence", "lift the returned Region's fence"},
	} {
		s = append(s, StepSpec{Name: st.name, Description: st.desc, Block: BlockLambda, Runs: map[string]string{KindRejoin: st.name}, RegionToRun: RunInActive, TimeoutMinutes: 20})
	}
	return s
}

// Specs returns the step specs of the workflow for action.
func Specs(cfg config.Config, action string) []StepSpec {
	if action == PostRecovery {
		return RejoinSteps()
	}
	return ActivateSteps(cfg)
}

// Kind is the drctl plan an execution stands for.
func Kind(action, mode string) string {
	switch {
	case action == PostRecovery:
		return KindRejoin
	case mode == Ungraceful:
		return KindFailover
	default:
		return KindSwitchover
	}
}

// Find returns the spec of the named step of action's workflow.
func Find(cfg config.Config, action, name string) (StepSpec, bool) {
	for _, s := range Specs(cfg, action) {
		if s.Name == name {
			return s, true
		}
	}
	return StepSpec{}, false
}
