package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/config"
)

// Network is one Region's VPC and the security groups its neighbours use.
type Network struct {
	Vpc        awsec2.Vpc
	LambdaSG   awsec2.SecurityGroup
	DatabaseSG awsec2.SecurityGroup
}

// newNetwork builds the VPC of the reference (DNS on, IGW, public subnets
// with one NAT gateway and its EIP, three private subnets in three AZs,
// route tables), plus what the reference lacked: flow logs, a DynamoDB and
// S3 gateway endpoint and interface endpoints for the services the Lambda
// calls, so the payment path does not depend on the NAT gateway.
func newNetwork(scope constructs.Construct, r region, key awskms.IKey) Network {
	c := constructs.NewConstruct(scope, jsii.String("Network"))
	vpc := awsec2.NewVpc(c, jsii.String("Vpc"), &awsec2.VpcProps{
		VpcName:            jsii.String(r.names.VPC(r.name)),
		IpAddresses:        awsec2.IpAddresses_Cidr(jsii.String(r.cfg.CIDR(r.name))),
		AvailabilityZones:  jsii.Strings(r.cfg.AZIDs(r.name)...),
		EnableDnsHostnames: jsii.Bool(true),
		EnableDnsSupport:   jsii.Bool(true),
		NatGateways:        jsii.Number(1),
		// The layout config validation sizes the VPC for.
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(config.PublicSubnetBits), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(config.PrivateSubnetBits)},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(false),
	})
	placeByAZID(vpc)

	flowLogs := awslogs.NewLogGroup(c, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		EncryptionKey: key,
		RemovalPolicy: r.removal(awscdk.RemovalPolicy_RETAIN),
	})
	flowRole := awsiam.NewRole(c, jsii.String("FlowLogRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("vpc-flow-logs.amazonaws.com"), nil),
		Description: jsii.String("VPC flow logs of " + r.name + " into their log group"),
	})
	managedPolicy(c, "FlowLogPolicy", flowRole, &awsiam.PolicyStatementProps{
		Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
		// The log group's Arn attribute already covers its streams.
		Resources: &[]*string{flowLogs.LogGroupArn()},
	})
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, flowRole.WithoutPolicyUpdates(nil)),
		TrafficType: awsec2.FlowLogTrafficType_ALL,
	})

	private := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	vpc.AddGatewayEndpoint(jsii.String("DynamoDB"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB(),
		Subnets: &[]*awsec2.SubnetSelection{private},
	})
	vpc.AddGatewayEndpoint(jsii.String("S3"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_S3(),
		Subnets: &[]*awsec2.SubnetSelection{private},
	})

	lambdaSG := awsec2.NewSecurityGroup(c, jsii.String("LambdaSG"), &awsec2.SecurityGroupProps{
		Vpc:               vpc,
		Description:       jsii.String("payment Lambda: HTTPS to AWS endpoints, MySQL to the database"),
		AllowAllOutbound:  jsii.Bool(false),
		SecurityGroupName: jsii.String(r.names.LambdaSecurityGroup()),
	})
	dbSG := awsec2.NewSecurityGroup(c, jsii.String("DatabaseSG"), &awsec2.SecurityGroupProps{
		Vpc:               vpc,
		Description:       jsii.String("Aurora: MySQL from the payment Lambda only"),
		AllowAllOutbound:  jsii.Bool(false),
		SecurityGroupName: jsii.String(r.names.DatabaseSecurityGroup()),
	})
	dbSG.AddIngressRule(lambdaSG, awsec2.Port_Tcp(jsii.Number(3306)), jsii.String("MySQL from the payment Lambda"), nil)
	lambdaSG.AddEgressRule(dbSG, awsec2.Port_Tcp(jsii.Number(3306)), jsii.String("MySQL to Aurora"), nil)
	// HTTPS to the interface endpoints inside the VPC and to DynamoDB's
	// public ranges, which the route tables send through the gateway
	// endpoint. Resolving DynamoDB's managed prefix list would need an
	// account lookup at synth time, which this app must not require.
	lambdaSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to AWS endpoints"), nil)

	newInterfaceEndpoints(c, vpc, lambdaSG)
	for _, subnet := range *vpc.PublicSubnets() {
		suppress(subnet, "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW", "Public subnets hold only the NAT gateway, whose egress needs the default route to the internet gateway; no workload runs in them and they assign no public IPs")
	}
	return Network{Vpc: vpc, LambdaSG: lambdaSG, DatabaseSG: dbSG}
}

// newInterfaceEndpoints adds the Secrets Manager and EventBridge endpoints
// the payment Lambda calls, reachable over HTTPS from its group only.
func newInterfaceEndpoints(c constructs.Construct, vpc awsec2.Vpc, lambdaSG awsec2.ISecurityGroup) {
	private := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	endpointSG := awsec2.NewSecurityGroup(c, jsii.String("EndpointSG"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("interface endpoints: HTTPS from the payment Lambda"),
		AllowAllOutbound: jsii.Bool(false),
	})
	endpointSG.AddIngressRule(lambdaSG, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from the payment Lambda"), nil)
	for _, ep := range []struct {
		id  string
		svc awsec2.InterfaceVpcEndpointAwsService
	}{
		{"SecretsManager", awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER()},
		{"EventBridge", awsec2.InterfaceVpcEndpointAwsService_EVENTBRIDGE()},
	} {
		vpc.AddInterfaceEndpoint(jsii.String(ep.id), &awsec2.InterfaceVpcEndpointOptions{
			Service:           ep.svc,
			Subnets:           private,
			SecurityGroups:    &[]awsec2.ISecurityGroup{endpointSG},
			PrivateDnsEnabled: jsii.Bool(true),
			// Not CDK's default (HTTPS from the whole VPC CIDR): only the
			// Lambda's group, admitted above.
			Open: jsii.Bool(false),
		})
	}
}

// placeByAZID places every subnet by AZ ID rather than AZ name: names map
// to different physical zones in each account and a literal name may not
// exist in it (cfn-lint W3010), an ID is the same zone everywhere. The VPC
// construct only knows names, so it is given the IDs as names (they are
// used for nothing but this property) and each subnet's property is
// swapped for AvailabilityZoneId.
func placeByAZID(vpc awsec2.Vpc) {
	for _, list := range []*[]awsec2.ISubnet{vpc.PublicSubnets(), vpc.PrivateSubnets()} {
		for _, sn := range *list {
			cfn := sn.Node().DefaultChild().(awsec2.CfnSubnet)
			cfn.AddPropertyDeletionOverride(jsii.String("AvailabilityZone"))
			cfn.AddPropertyOverride(jsii.String("AvailabilityZoneId"), sn.AvailabilityZone())
		}
	}
}

// azContext pre-answers CDK's availability-zone lookup for the stack's
// account and Region with the configured AZ IDs. The VPC construct reads
// the stack's zones even when given its own; unanswered, the lookup is
// left as "missing context" in the assembly for the CLI to resolve
// against the account at deploy time, which this offline synth avoids.
func azContext(cfg config.Config) map[string]any {
	out := map[string]any{}
	for _, region := range cfg.Regions() {
		out["availability-zones:account="+cfg.Account+":region="+region] = cfg.AZIDs(region)
	}
	return out
}
