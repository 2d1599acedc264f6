package daemon

import (
	"testing"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
)

// Every fault the API accepts has an action, and no action is
// unreachable.
func TestEveryFaultHasAnAction(t *testing.T) {
	for _, f := range labapi.Faults {
		if faultActions[f.Kind] == nil {
			t.Errorf("fault %s has no action", f.Kind)
		}
	}
	if len(faultActions) != len(labapi.Faults) {
		t.Errorf("%d actions for %d fault kinds", len(faultActions), len(labapi.Faults))
	}
}
