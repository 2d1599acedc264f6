package dr_test

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pattern links (go list -deps), test files
// excluded: what the binaries built from it contain.
func deps(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pattern).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
	}
	return strings.Fields(string(out))
}

// Imports run lab -> dr only: the DR lab is chosen in cmd/drctl's main,
// so the operator code, the scheduled evaluator and the Region switch
// plan's action function in the AWS account link neither the lab nor the
// CDK.
func TestOperatorCodeAndTheDRLambdasLinkNoLab(t *testing.T) {
	const module = "github.com/payment-dr/payment-dr/"
	for _, pattern := range []string{module + "internal/dr/...", module + "cmd/drctl-evaluate", module + "cmd/drctl-action"} {
		for _, p := range deps(t, pattern) {
			if strings.HasPrefix(p, module+"internal/lab/") || strings.HasPrefix(p, module+"internal/stack") || strings.HasPrefix(p, "github.com/aws/aws-cdk-go/") {
				t.Errorf("%s links %s", pattern, p)
			}
		}
	}
}
