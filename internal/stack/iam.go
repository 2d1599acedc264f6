package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// managedPolicy attaches the statements to role as a customer-managed
// policy. Inline policies are avoided (PCI DSS 3.2.1 7.1.2): a managed
// policy is versioned and can be reviewed on its own.
func managedPolicy(scope constructs.Construct, id string, role awsiam.IRole, statements ...*awsiam.PolicyStatementProps) awsiam.ManagedPolicy {
	docs := make([]awsiam.PolicyStatement, len(statements))
	for i, s := range statements {
		docs[i] = awsiam.NewPolicyStatement(s)
	}
	return awsiam.NewManagedPolicy(scope, jsii.String(id), &awsiam.ManagedPolicyProps{
		Statements: &docs,
		Roles:      &[]awsiam.IRole{role},
	})
}
