package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// apiProps carries what the Region's API needs from its neighbours.
type apiProps struct {
	fn            awslambda.IFunction
	zone          awsroute53.IHostedZone
	healthCheckID *string // this Region's Route 53 health check (DNS stack)
	logKey        awskms.IKey
}

// API is one Region's HTTP API with its custom domains.
type API struct {
	Api      awsapigatewayv2.HttpApi
	Failover awsapigatewayv2.DomainName // api.payment-<env>.<domain>, served by both Regions
	Regional awsapigatewayv2.DomainName // api-<region>.payment-<env>.<domain>, this Region only
}

// newAPI puts the payment Lambda behind an API Gateway HTTP API with two
// custom domains and one certificate validated through the zone:
//   - the failover name, whose PRIMARY/SECONDARY record in this Region
//     aliases this Region's domain and carries this Region's health check
//     (the reference pointed the records at NAT gateway addresses);
//   - a Regional name that the health check and drctl probe, so /health
//     is checked where it is really served.
//
// The execute-api endpoint is disabled so clients cannot bypass the names.
func newAPI(scope constructs.Construct, r region, p apiProps) API {
	c := constructs.NewConstruct(scope, jsii.String("Api"))
	failoverHost, regionalHost := r.names.APIHost(), r.names.RegionalAPIHost(r.name)

	cert := awscertificatemanager.NewCertificate(c, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
		DomainName:              jsii.String(failoverHost),
		SubjectAlternativeNames: jsii.Strings(regionalHost),
		Validation:              awscertificatemanager.CertificateValidation_FromDns(p.zone),
	})
	domain := func(id, host string) awsapigatewayv2.DomainName {
		return awsapigatewayv2.NewDomainName(c, jsii.String(id), &awsapigatewayv2.DomainNameProps{
			DomainName:     jsii.String(host),
			Certificate:    cert,
			EndpointType:   awsapigatewayv2.EndpointType_REGIONAL,
			SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
		})
	}
	failover, regional := domain("FailoverDomain", failoverHost), domain("RegionalDomain", regionalHost)

	api := awsapigatewayv2.NewHttpApi(c, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:                   jsii.String(r.names.HTTPAPI(r.name)),
		Description:               jsii.String("payment API in " + r.name),
		CreateDefaultStage:        jsii.Bool(false),
		DisableExecuteApiEndpoint: jsii.Bool(true),
	})
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Payments"), p.fn, &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
		PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		Timeout:              awscdk.Duration_Seconds(jsii.Number(29)),
	})
	for _, route := range naming.APIRoutes {
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path: jsii.String(route.Path), Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(route.Method)}, Integration: integration,
		})
	}

	suppress(api, "AwsSolutions-APIG4", "Callers authenticate with the generated API key (x-api-key), verified in constant time by the payment service for every route except GET /health, which Route 53 health checkers must reach unauthenticated and which reveals no data")

	accessLogs := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		EncryptionKey: p.logKey,
		RemovalPolicy: r.removal(awscdk.RemovalPolicy_RETAIN),
	})
	stage := awsapigatewayv2.NewHttpStage(c, jsii.String("Stage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle:   &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(500), BurstLimit: jsii.Number(1000)},
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",` +
			`"method":"$context.httpMethod","path":"$context.path","status":"$context.status","latencyMs":"$context.responseLatency",` +
			`"integrationError":"$context.integrationErrorMessage"}`),
	})
	awsapigatewayv2.NewApiMapping(c, jsii.String("FailoverMapping"), &awsapigatewayv2.ApiMappingProps{Api: api, DomainName: failover, Stage: stage})
	awsapigatewayv2.NewApiMapping(c, jsii.String("RegionalMapping"), &awsapigatewayv2.ApiMappingProps{Api: api, DomainName: regional, Stage: stage})

	newRecords(c, r, p, failover, regional)
	return API{Api: api, Failover: failover, Regional: regional}
}

// newRecords points the failover name (PRIMARY or SECONDARY, with this
// Region's health check) and the Regional name at this Region's domains.
func newRecords(c constructs.Construct, r region, p apiProps, failover, regional awsapigatewayv2.DomainName) {
	failoverHost, regionalHost := r.names.APIHost(), r.names.RegionalAPIHost(r.name)
	failoverRole := "SECONDARY"
	if r.isPrimary() {
		failoverRole = "PRIMARY"
	}
	awsroute53.NewCfnRecordSet(c, jsii.String("FailoverRecord"), &awsroute53.CfnRecordSetProps{
		HostedZoneId:  p.zone.HostedZoneId(),
		Name:          jsii.String(failoverHost),
		Type:          jsii.String("A"),
		SetIdentifier: jsii.String(r.name),
		Failover:      jsii.String(failoverRole),
		HealthCheckId: p.healthCheckID,
		AliasTarget: &awsroute53.CfnRecordSet_AliasTargetProperty{
			DnsName:      failover.RegionalDomainName(),
			HostedZoneId: failover.RegionalHostedZoneId(),
			// The attached health check is the signal: it probes /health,
			// which is 200 only where the database accepts writes.
			EvaluateTargetHealth: jsii.Bool(false),
		},
	})
	awsroute53.NewCfnRecordSet(c, jsii.String("RegionalRecord"), &awsroute53.CfnRecordSetProps{
		HostedZoneId: p.zone.HostedZoneId(),
		Name:         jsii.String(regionalHost),
		Type:         jsii.String("A"),
		AliasTarget: &awsroute53.CfnRecordSet_AliasTargetProperty{
			DnsName:              regional.RegionalDomainName(),
			HostedZoneId:         regional.RegionalHostedZoneId(),
			EvaluateTargetHealth: jsii.Bool(false),
		},
	})
}
