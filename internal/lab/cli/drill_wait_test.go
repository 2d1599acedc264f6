package cli

import (
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// A frozen database or a cut journal link is a fault in force: the lab
// has not settled.
func TestNotSettledWhileADatabaseIsFrozenOrAJournalLinkCut(t *testing.T) {
	calm := func() labapi.Status {
		return labapi.Status{Cluster: labapi.Cluster{Writer: "us-east-1", Status: labapi.Available,
			Members: []labapi.Member{{Region: "us-east-1", Writer: true, Reachable: true}, {Region: "us-west-2", Reachable: true, Sync: labapi.SyncConnected}}},
			Services: map[string]labapi.Service{"us-east-1": {Health: 200}}, Checks: map[string]labapi.Check{"us-east-1": {Healthy: true}}}
	}
	if ok, why, _ := settled(calm()); !ok {
		t.Fatalf("a calm lab is not settled: %s", why)
	}
	frozen := calm()
	frozen.Frozen = []string{"us-west-2"}
	cut := calm()
	cut.JournalCuts = []string{"us-east-1|us-west-2"}
	for want, st := range map[string]labapi.Status{"databases frozen: [us-west-2]": frozen, "journal links cut: [us-east-1|us-west-2]": cut} {
		if ok, why, _ := settled(st); ok || !strings.Contains(why, want) {
			t.Errorf("settled: %v %q, want false and %q", ok, why, want)
		}
	}
}
