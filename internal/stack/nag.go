package stack

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyNag checks every construct of app against the AWS Solutions and
// PCI DSS 3.2.1 rule packs. Findings become error annotations unless a
// suppression with its reason (suppressions.go) covers them.
func ApplyNag(app constructs.Construct) {
	props := &cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(false)}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(props), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewPCIDSS321Checks(props), nil)
}

// NagErrors returns the unsuppressed cdk-nag errors (and any other error
// annotation) of the synthesized stacks, sorted, as "stack path: message".
func NagErrors(assembly cxapi.CloudAssembly) []string {
	var out []string
	for _, st := range *assembly.Stacks() {
		for _, m := range *st.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				out = append(out, fmt.Sprintf("%s %s: %v", *st.StackName(), *m.Id, m.Entry.Data))
			}
		}
	}
	sort.Strings(out)
	return out
}

// suppress records that a cdk-nag rule does not apply to construct (and
// its children), with the reason a reviewer can check. appliesTo narrows
// an IAM5/IAM4 suppression to the named findings (e.g. "Resource::*").
func suppress(construct constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]interface{}, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}
