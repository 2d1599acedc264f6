package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// Account settings and state the template must create but not own: one
// small SDK-call provider per Regional stack (CDK's AwsCustomResource)
// with its own role, whose managed policy allows exactly these calls.

// drState holds what the Region's one-time calls need.
type drState struct {
	scope constructs.Construct
	r     region
	role  awsiam.IRole
	logs  awslogs.ILogGroup
}

// newDRState sets up the Region: writer is the initial writer endpoint
// (the primary's cluster endpoint).
func newDRState(scope constructs.Construct, r region, key awskms.IKey, writer *string) {
	c := constructs.NewConstruct(scope, jsii.String("AccountSetup"))
	base := newLambdaBase(c, r, "", "one-time setup in "+r.name+": drctl's state parameters if absent, AWS Backup opt-in", key)
	logs, role := base.logs, base.role
	var params []*string
	for _, name := range []string{r.names.ActiveRegionParam(), r.names.WriterEndpointParam()} {
		params = append(params, jsii.String(naming.ParameterARN(r.name, r.cfg.Account, name)))
	}
	policy := managedPolicy(c, "Policy", role,
		base.logsAccess,
		&awsiam.PolicyStatementProps{Sid: jsii.String("CreateDRState"), Actions: jsii.Strings("ssm:PutParameter"), Resources: &params},
		// Region settings are an account-level singleton with no ARN.
		&awsiam.PolicyStatementProps{Sid: jsii.String("BackupOptIn"), Actions: jsii.Strings("backup:UpdateRegionSettings"), Resources: jsii.Strings("*")},
	)
	suppress(policy, "AwsSolutions-IAM5", "backup:UpdateRegionSettings acts on the account's per-Region AWS Backup settings, which have no resource ARN", "Resource::*")
	s := drState{scope: c, r: r, role: role.WithoutPolicyUpdates(nil), logs: logs}
	s.createIfAbsent(writer)
	s.backupOptIn()
	// The provider is a singleton function at the stack's root, named by CDK.
	provider := awscdk.Stack_Of(scope).Node().FindChild(jsii.String("AWS" + strings.ReplaceAll(*customresources.AwsCustomResource_PROVIDER_FUNCTION_UUID(), "-", "")))
	suppress(provider, "PCI.DSS.321-LambdaInsideVPC", "CDK's SDK-call provider runs only at deploy time and calls only AWS control-plane APIs (SSM PutParameter, Backup UpdateRegionSettings); it handles no payment data, and a VPC would make the first deploy depend on the NAT gateway")
}

func (s drState) call(id string, props *customresources.AwsCustomResourceProps) customresources.AwsCustomResource {
	props.Role = s.role
	props.LogGroup = s.logs
	props.InstallLatestAwsSdk = jsii.Bool(false) // the runtime's SDK; no download at deploy time
	return customresources.NewAwsCustomResource(s.scope, jsii.String(id), props)
}

// createIfAbsent creates drctl's state parameters (the active Region, the
// writer endpoint) with their initial values only if they do not exist,
// and never updates or deletes them: drctl owns their values after a
// failover, so a later stack update must not reset them to the primary
// (as AWS::SSM::Parameter with a literal value did).
func (s drState) createIfAbsent(writer *string) {
	for _, p := range []struct {
		id, name string
		value    *string
	}{
		{"ActiveRegionParam", s.r.names.ActiveRegionParam(), jsii.String(s.r.cfg.PrimaryRegion)},
		{"WriterEndpointParam", s.r.names.WriterEndpointParam(), writer},
	} {
		s.call(p.id, &customresources.AwsCustomResourceProps{
			OnCreate: &customresources.AwsSdkCall{
				Service: jsii.String("SSM"), Action: jsii.String("PutParameter"),
				Parameters: map[string]any{
					"Name": p.name, "Value": p.value, "Type": "String", "Tier": "Standard", "Overwrite": false,
					"Description": "drctl state, created once by the stack; drctl owns the value",
				},
				PhysicalResourceId:       customresources.PhysicalResourceId_Of(jsii.String(p.name)),
				IgnoreErrorCodesMatching: jsii.String("ParameterAlreadyExists"),
			},
		})
	}
}

// backupOptIn opts the Region's AWS Backup into Aurora and DynamoDB and
// turns on advanced DynamoDB backup (full AWS Backup management), without
// which the tag selection skips those types and DynamoDB recovery points
// cannot be copied to the other Region. CloudFormation has no resource for
// these account settings. The call names only these two types, leaving
// the others as they are, and nothing is undone on delete: other
// workloads in the account may rely on the opt-in.
func (s drState) backupOptIn() {
	call := &customresources.AwsSdkCall{
		Service: jsii.String("Backup"), Action: jsii.String("UpdateRegionSettings"),
		Parameters: map[string]any{
			"ResourceTypeOptInPreference":      map[string]bool{"Aurora": true, "DynamoDB": true},
			"ResourceTypeManagementPreference": map[string]bool{"DynamoDB": true},
		},
		PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String("backup-region-settings-" + s.r.name)),
	}
	s.call("BackupOptIn", &customresources.AwsCustomResourceProps{OnCreate: call, OnUpdate: call})
}
