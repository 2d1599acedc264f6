// Package awslimits checks a synthesized cloud assembly (cdk.out) against
// the documented AWS limits a CloudFormation template can break: IAM policy
// sizes and counts, template size, resources/outputs/parameters per stack,
// Lambda environment size and security-group rules. It reads the template
// JSON only (no CDK), resolving every intrinsic function to the longest
// value it can realistically take, so a figure under its limit here is
// under it in any account.
package awslimits

// Limit is one documented AWS limit: its value and the document that
// states it. docs/aws-limits.md is the same table in prose.
type Limit struct {
	Name   string
	Max    int
	Unit   string
	Source string // document title
	URL    string
}

const (
	iamQuotas = "IAM and AWS STS quotas, name requirements, and character limits"
	iamURL    = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
	cfnQuotas = "Understand CloudFormation quotas"
	cfnURL    = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
)

// The limits checked. IAM counts policy characters without white space;
// the defaults of adjustable quotas are used, since a deploy must not
// depend on an increase.
var (
	ManagedPolicySize = Limit{"managed policy size", 6144, "characters", iamQuotas, iamURL}
	TrustPolicySize   = Limit{"role trust policy size", 2048, "characters", iamQuotas, iamURL}
	ManagedPerRole    = Limit{"managed policies per role", 10, "policies", iamQuotas, iamURL}
	InlinePerRole     = Limit{"inline policy size per role", 10240, "characters", iamQuotas, iamURL}
	// cdk deploy with the default stack synthesizer uploads each template
	// to the bootstrap bucket and passes its URL (the manifest's
	// stackTemplateAssetObjectUrl), so the S3 limit applies; a template
	// passed inline (no such URL) is held to the request limit.
	TemplateS3Size   = Limit{"template body size (Amazon S3 object)", 1_000_000, "bytes", cfnQuotas, cfnURL}
	TemplateBodySize = Limit{"template body size (in a request)", 51_200, "bytes", cfnQuotas, cfnURL}
	Resources        = Limit{"resources per stack", 500, "resources", cfnQuotas, cfnURL}
	Outputs          = Limit{"outputs per stack", 200, "outputs", cfnQuotas, cfnURL}
	Parameters       = Limit{"parameters per stack", 200, "parameters", cfnQuotas, cfnURL}
	// Lambda measures the variables as their JSON object (its error says
	// "String measured: {...}").
	LambdaEnvSize = Limit{"Lambda environment variables, total", 4096, "bytes", "Lambda quotas", "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"}
	SGIngress     = Limit{"inbound rules per security group", 60, "rules", "Amazon VPC quotas", "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"}
	SGEgress      = Limit{"outbound rules per security group", 60, "rules", "Amazon VPC quotas", "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"}
)

// LambdaSyncResponse is not a template limit: it bounds the answer of a
// synchronous invocation ("For synchronous invocations, the maximum
// payload size is 6 MB", Lambda API Reference, Invoke), which the payment
// function's journal replay pages its answer under
// (payments.MaxReplayPage). MB is read as 10^6 bytes, the smaller
// reading, so an answer under it is under it either way.
var LambdaSyncResponse = Limit{"Lambda synchronous invocation response payload", 6_000_000, "bytes",
	"Lambda API Reference, Invoke", "https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html"}

// Table is every limit checked, in the order docs/aws-limits.md lists them.
var Table = []Limit{ManagedPolicySize, TrustPolicySize, ManagedPerRole, InlinePerRole, TemplateS3Size, TemplateBodySize,
	Resources, Outputs, Parameters, LambdaEnvSize, SGIngress, SGEgress}

// Runtime limits: not in a template, so not in Table; the code that could
// break them cites them here.
const (
	ddbWarm    = "Amazon DynamoDB developer guide: Understanding DynamoDB warm throughput in different scenarios"
	ddbWarmURL = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html"
)

var (
	// DynamoDBPartitionWrites: "each individual partition is limited to
	// 1,000 write units per second and 3,000 read units per second", in
	// on-demand and provisioned mode alike; beyond it DynamoDB throttles
	// the requests with the throttling reason
	// TableWriteKeyRangeThroughputExceeded (developer guide, "Key range
	// throughput exceeded (hot partitions)"; API Reference,
	// ThrottlingReason). One write unit is one write of up to 1 KB
	// (developer guide, "DynamoDB on-demand capacity mode").
	DynamoDBPartitionWrites = Limit{"DynamoDB writes per partition", 1000, "write units per second", ddbWarm, ddbWarmURL}
	DynamoDBPartitionReads  = Limit{"DynamoDB reads per partition", 3000, "read units per second", ddbWarm, ddbWarmURL}
)
