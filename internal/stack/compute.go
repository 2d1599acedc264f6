package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RDSCABundle is the file name of the Amazon RDS CA bundle inside the
// Lambda package. It is not in the repository (download it from the AWS
// trust store into certs/ before deploying); without it the function
// refuses to start rather than talk to the database unverified.
const RDSCABundle = "rds-ca-bundle.pem"

// computeProps carries what the payment Lambda needs from its neighbours.
type computeProps struct {
	net       Network
	db        Database
	bus       awsevents.IEventBus
	logKey    awskms.IKey
	secretKey awskms.IKey // the key of the secrets in this Region; nil where the replica uses the AWS-managed key
	assetDir  string      // directory holding the built `bootstrap`
}

// newPaymentFunction deploys the Go payment service built from this
// repository (linux/arm64, provided.al2023) into the private subnets. It
// talks to this Region's cluster endpoint: writable in the primary,
// read-only (503, retryable) in the secondary until drctl promotes it.
func newPaymentFunction(scope constructs.Construct, r region, p computeProps) awslambda.Function {
	c := constructs.NewConstruct(scope, jsii.String("Payments"))
	fnName := r.names.PaymentFunction(r.name)

	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + fnName),
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		EncryptionKey: p.logKey,
		RemovalPolicy: r.removal(awscdk.RemovalPolicy_RETAIN),
	})

	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(fnName),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("payment Lambda in " + r.name + ": its log group, table, bus and secrets only"),
	})
	tableARN := r.arn("dynamodb", r.name, "table/"+r.names.SessionTable())
	statements := []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("Logs"), Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"), Resources: &[]*string{logs.LogGroupArn()}},
		{Sid: jsii.String("Sessions"), Actions: jsii.Strings("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"), Resources: &[]*string{tableARN}},
		{Sid: jsii.String("Events"), Actions: jsii.Strings("events:PutEvents"), Resources: &[]*string{p.bus.EventBusArn()}},
		{Sid: jsii.String("Secrets"), Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: &[]*string{
			secretARNPattern(r, r.name, r.names.DBSecretName()), secretARNPattern(r, r.name, r.names.APIKeySecretName()),
		}},
		// Lambda creates and removes the function's network interfaces; the
		// EC2 API cannot scope these calls to resources that do not exist yet.
		{Sid: jsii.String("VpcNetworkInterfaces"), Actions: jsii.Strings(
			"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"), Resources: jsii.Strings("*")},
	}
	if p.secretKey != nil {
		statements = append(statements, &awsiam.PolicyStatementProps{
			Sid: jsii.String("SecretsKey"), Actions: jsii.Strings("kms:Decrypt"), Resources: &[]*string{p.secretKey.KeyArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager." + r.name + ".amazonaws.com"}},
		})
	}
	statements = append(statements, &awsiam.PolicyStatementProps{
		// X-Ray segments have no resource scope.
		Sid: jsii.String("Tracing"), Actions: jsii.Strings("xray:PutTraceSegments", "xray:PutTelemetryRecords"), Resources: jsii.Strings("*"),
	})
	policy := managedPolicy(c, "Policy", role, statements...)
	suppress(policy, "AwsSolutions-IAM5", "EC2 network-interface and X-Ray calls have no resource-level scope; the secrets are matched by exact name with Secrets Manager's six-character suffix",
		"Resource::*",
		"Resource::arn:aws:secretsmanager:"+r.name+":"+r.cfg.Account+":secret:"+r.names.DBSecretName()+"-??????",
		"Resource::arn:aws:secretsmanager:"+r.name+":"+r.cfg.Account+":secret:"+r.names.APIKeySecretName()+"-??????")

	props := goFunction(fnName, "payment service (Go) in "+r.name, p.assetDir, role, logs)
	props.MemorySize = jsii.Number(1024)
	props.Timeout = awscdk.Duration_Seconds(jsii.Number(60))
	props.Tracing = awslambda.Tracing_ACTIVE
	props.Vpc = p.net.Vpc
	props.VpcSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	props.SecurityGroups = &[]awsec2.ISecurityGroup{p.net.LambdaSG}
	props.Environment = &map[string]*string{
		"ENVIRONMENT":       jsii.String(r.cfg.Environment),
		"SESSION_TABLE":     jsii.String(r.names.SessionTable()),
		"EVENT_BUS_NAME":    p.bus.EventBusName(),
		"DB_HOST":           p.db.Cluster.AttrEndpointAddress(),
		"DB_PORT":           jsii.String("3306"),
		"DB_NAME":           jsii.String(r.names.DatabaseName()),
		"DB_SECRET_ID":      jsii.String(r.names.DBSecretName()),
		"API_KEY_SECRET_ID": jsii.String(r.names.APIKeySecretName()),
		// The server certificate is verified against the RDS CA bundle
		// shipped in the package (make lambda copies certs/ into it).
		"DB_TLS_CA_FILE": jsii.String("/var/task/" + RDSCABundle),
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), props)
	fn.Node().AddDependency(policy)
	return fn
}

// goFunction is the common shape of this repository's Lambdas: a Go
// binary named bootstrap built for linux/arm64 (provided.al2023), a
// content-hashed asset, JSON logs into a given log group, and an immutable
// role: every permission is in the role's managed policy, so CDK may not
// add an inline one behind it.
func goFunction(name, description, assetDir string, role awsiam.Role, logs awslogs.ILogGroup) *awslambda.FunctionProps {
	return &awslambda.FunctionProps{
		FunctionName:  jsii.String(name),
		Description:   jsii.String(description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(assetDir), nil),
		Role:          role.WithoutPolicyUpdates(nil),
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
	}
}
