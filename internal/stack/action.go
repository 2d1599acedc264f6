package stack

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// actionProps carries what a Region's drctl-action function needs.
type actionProps struct {
	key      awskms.IKey
	ids      drpolicy.IDs // the zone and health checks, as the DR role has them
	assetDir string       // the drctl-action bootstrap
}

// Lambda's maximum timeout (Lambda quotas, "Function timeout: 900
// seconds"): a drctl step waits up to 15 minutes and returns before it,
// and ARC invokes the step again after its retry interval.
const actionTimeoutSeconds = 900

// newActionFunction is the function ARC's Region switch plan invokes for
// its custom-action steps (package arcplan): drctl's own step code, with
// the DR role's permissions (drpolicy.ActionPolicies: the same calls, and
// of the plan's executions only reading the one that invoked it). One per
// Region, because ARC runs a step in the activating or the active Region.
func newActionFunction(scope constructs.Construct, r region, p actionProps) awslambda.Function {
	c := constructs.NewConstruct(scope, jsii.String("RegionSwitchAction"))
	name := r.names.ActionFunction(r.name)
	base := newLambdaBase(c, r, name, "drctl-action in "+r.name+": the ARC Region switch plan's steps, with the DR role's permissions", p.key)
	policies := []awsiam.ManagedPolicy{managedPolicy(c, "Policy", base.role, base.logsAccess)}
	// One managed policy per drpolicy policy, as for the DR role: together
	// they would pass IAM's 6,144 characters.
	for _, dp := range drpolicy.ActionPolicies(r.cfg, p.ids) {
		policy := managedPolicy(c, dp.Name, base.role, policyStatements(dp.Statements)...)
		suppressDRWildcards(policy, r, "CloudWatch GetMetricData has no resource-level scope")
		policies = append(policies, policy)
	}

	cfgJSON, _ := json.Marshal(r.cfg) // the validated config; it holds no secret
	props := goFunction(name, "drctl-action: the ARC Region switch plan's custom-action steps, run with drctl's step code", p.assetDir, base.role, base.logs)
	props.MemorySize = jsii.Number(256)
	props.Timeout = awscdk.Duration_Seconds(jsii.Number(actionTimeoutSeconds))
	props.Environment = &map[string]*string{naming.DRConfigEnv: jsii.String(string(cfgJSON))}
	fn := awslambda.NewFunction(c, jsii.String("Function"), props)
	for _, policy := range policies {
		fn.Node().AddDependency(policy)
	}
	suppress(fn, "PCI.DSS.321-LambdaInsideVPC", "drctl's steps call AWS control-plane APIs in both Regions and the public /health names, as the probe and drctl evaluate do; "+
		"it handles no payment data (the journal replay goes through the payment function), and a VPC would add a NAT dependency to the failover meant to survive a Regional impairment")
	return fn
}
