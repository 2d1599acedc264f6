package awslimits

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// The longest values CloudFormation can put where a template has an
// intrinsic function, each from the format its service documents.
const (
	accountLen = 12 // AWS account ids are 12 digits
	// Route 53 API reference, HostedZone.Id and ResourceId: maximum
	// length 32.
	hostedZoneIDLen = 32
	// EC2 resource ids: a prefix (sg-, vpc-, subnet-) and 17 hex digits.
	ec2IDHex = 17
	// A value with no rule here is replaced by this many characters and
	// its figure marked estimated.
	guessLen = 128
)

// resolver turns a template value into what CloudFormation would send,
// every intrinsic function replaced by its longest realistic result.
type resolver struct {
	s         *Stack
	estimated bool
}

func newResolver(s *Stack) *resolver { return &resolver{s: s} }

func (r *resolver) account() string {
	if len(r.s.Account) == accountLen && strings.Trim(r.s.Account, "0123456789") == "" {
		return r.s.Account
	}
	return strings.Repeat("9", accountLen)
}

func (r *resolver) region() string {
	if r.s.Region != "" && !strings.Contains(r.s.Region, "unknown") {
		return r.s.Region
	}
	return "ap-southeast-1" // among the longest Region codes
}

func (r *resolver) guess(n int) string {
	r.estimated = true
	return strings.Repeat("x", n)
}

func (r *resolver) arn(service, region, resource string) string {
	return "arn:aws:" + service + ":" + region + ":" + r.account() + ":" + resource
}

// value resolves v recursively.
func (r *resolver) value(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = r.value(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = r.value(x)
		}
		return out
	}
	return v
}

// str resolves v to the string CloudFormation would substitute.
func (r *resolver) str(v any) string {
	switch t := r.value(v).(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

func (r *resolver) list(v any) []any {
	if l, ok := r.value(v).([]any); ok {
		return l
	}
	return []any{r.guess(guessLen)}
}

func (r *resolver) intrinsic(fn string, arg any) any {
	a, _ := arg.([]any)
	switch fn {
	case "Ref":
		s, _ := arg.(string)
		return r.ref(s)
	case "Fn::GetAtt":
		if s, ok := arg.(string); ok {
			id, attr, _ := strings.Cut(s, ".")
			return r.getAtt(id, attr)
		}
		if len(a) == 2 {
			id, _ := a[0].(string)
			return r.getAtt(id, r.str(a[1]))
		}
	case "Fn::Join":
		if len(a) == 2 {
			var parts []string
			for _, p := range r.list(a[1]) {
				parts = append(parts, r.str(p))
			}
			return strings.Join(parts, r.str(a[0]))
		}
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::Select":
		if len(a) == 2 {
			i, _ := strconv.Atoi(r.str(a[0]))
			if l := r.list(a[1]); i >= 0 && i < len(l) {
				return l[i]
			}
		}
	case "Fn::Split":
		if len(a) == 2 {
			var out []any
			for _, p := range strings.Split(r.str(a[1]), r.str(a[0])) {
				out = append(out, p)
			}
			return out
		}
	case "Fn::GetAZs":
		reg := r.region()
		return []any{reg + "a", reg + "b", reg + "c"}
	case "Fn::If":
		// Either branch may be taken: the longer one counts.
		if len(a) == 3 {
			x, y := r.str(a[1]), r.str(a[2])
			if len(y) > len(x) {
				return r.value(a[2])
			}
			return r.value(a[1])
		}
	case "Fn::Base64":
		return base64.StdEncoding.EncodeToString([]byte(r.str(arg)))
	case "Fn::ImportValue":
		return r.imported(r.str(arg))
	case "Fn::FindInMap":
		if len(a) == 3 {
			if v, ok := r.s.Template.Mappings[r.str(a[0])][r.str(a[1])][r.str(a[2])]; ok {
				return r.value(v)
			}
		}
	}
	return r.guess(guessLen)
}

var subRe = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (r *resolver) sub(arg any) string {
	text, vars := "", map[string]any{}
	switch t := arg.(type) {
	case string:
		text = t
	case []any:
		if len(t) > 0 {
			text, _ = t[0].(string)
		}
		if len(t) > 1 {
			vars, _ = t[1].(map[string]any)
		}
	}
	return subRe.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return r.str(v)
		}
		if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			return r.str(r.getAtt(id, attr))
		}
		return r.str(r.ref(name))
	})
}

func (r *resolver) ref(id string) any {
	switch id {
	case "AWS::AccountId":
		return r.account()
	case "AWS::Region":
		return r.region()
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::StackName":
		return r.s.Name
	case "AWS::NoValue":
		return nil
	}
	if p, ok := r.s.Template.Parameters[id]; ok && p.Default != nil {
		return r.value(p.Default)
	}
	res, ok := r.s.Template.Resources[id]
	if !ok {
		return r.guess(guessLen)
	}
	p := res.Properties
	switch res.Type {
	case "AWS::Route53::HostedZone":
		return "Z" + strings.Repeat("0", hostedZoneIDLen-1)
	case "AWS::Route53::HealthCheck", "AWS::KMS::Key":
		return uuid()
	case "AWS::IAM::Role":
		return r.name(p, "RoleName", 64)
	case "AWS::IAM::ManagedPolicy":
		return "arn:aws:iam::" + r.account() + ":policy/" + r.name(p, "ManagedPolicyName", 128)
	case "AWS::SNS::Topic":
		return r.arn("sns", r.region(), r.name(p, "TopicName", 256))
	case "AWS::SecretsManager::Secret":
		// Secrets Manager appends a hyphen and six random characters.
		return r.arn("secretsmanager", r.region(), "secret:"+r.name(p, "Name", 512)+"-XXXXXX")
	case "AWS::Logs::LogGroup":
		return r.name(p, "LogGroupName", 512)
	case "AWS::Lambda::Function":
		return r.name(p, "FunctionName", 64)
	case "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table":
		return r.name(p, "TableName", 255)
	case "AWS::RDS::DBCluster":
		return r.name(p, "DBClusterIdentifier", 63)
	case "AWS::RDS::DBInstance":
		return r.name(p, "DBInstanceIdentifier", 63)
	case "AWS::EC2::SecurityGroup":
		return "sg-" + strings.Repeat("0", ec2IDHex)
	case "AWS::EC2::VPC":
		return "vpc-" + strings.Repeat("0", ec2IDHex)
	case "AWS::EC2::Subnet":
		return "subnet-" + strings.Repeat("0", ec2IDHex)
	case "AWS::Events::EventBus":
		return r.name(p, "Name", 256)
	}
	return r.guess(guessLen)
}

func (r *resolver) getAtt(id, attr string) any {
	res, ok := r.s.Template.Resources[id]
	if !ok {
		return r.guess(guessLen)
	}
	if res.Type == "Custom::CrossRegionExportReader" {
		return r.crossRegion(attr)
	}
	p, reg := res.Properties, r.region()
	switch res.Type + "." + attr {
	case "AWS::IAM::Role.Arn":
		return "arn:aws:iam::" + r.account() + ":role/" + r.name(p, "RoleName", 64)
	case "AWS::Lambda::Function.Arn":
		return r.arn("lambda", reg, "function:"+r.name(p, "FunctionName", 64))
	case "AWS::Logs::LogGroup.Arn":
		return r.arn("logs", reg, "log-group:"+r.name(p, "LogGroupName", 512)+":*")
	case "AWS::KMS::Key.Arn":
		return r.arn("kms", reg, "key/"+uuid())
	case "AWS::KMS::Key.KeyId", "AWS::Route53::HealthCheck.HealthCheckId":
		return uuid()
	case "AWS::DynamoDB::GlobalTable.Arn", "AWS::DynamoDB::Table.Arn":
		return r.arn("dynamodb", reg, "table/"+r.name(p, "TableName", 255))
	case "AWS::Events::EventBus.Arn":
		return r.arn("events", reg, "event-bus/"+r.name(p, "Name", 256))
	case "AWS::SNS::Topic.TopicArn":
		return r.ref(id)
	case "AWS::EC2::SecurityGroup.GroupId":
		return r.ref(id)
	case "AWS::RDS::DBCluster.Endpoint.Port":
		return "3306"
	case "AWS::RDS::DBCluster.Endpoint.Address":
		// <cluster>.cluster-<12 characters>.<region>.rds.amazonaws.com
		return r.name(p, "DBClusterIdentifier", 63) + ".cluster-" + strings.Repeat("c", 12) + "." + reg + ".rds.amazonaws.com"
	case "AWS::RDS::DBCluster.ReadEndpoint.Address":
		return r.name(p, "DBClusterIdentifier", 63) + ".cluster-ro-" + strings.Repeat("c", 12) + "." + reg + ".rds.amazonaws.com"
	}
	if attr == "Arn" {
		svc := strings.ToLower(strings.Split(res.Type, "::")[1])
		return r.arn(svc, reg, r.guess(guessLen))
	}
	return r.guess(guessLen)
}

// name is a resource's physical name: the property when set, else the
// longest name CloudFormation may generate for the type.
func (r *resolver) name(p map[string]any, key string, max int) string {
	if v, ok := p[key]; ok {
		return r.str(v)
	}
	return strings.Repeat("n", max)
}

// uuid stands for a Route 53 health-check id or a KMS key id: both are
// UUIDs, 36 characters.
func uuid() string { return "00000000-0000-0000-0000-000000000000" }

// imported is the value of the assembly's export named name (a same-Region
// cross-stack reference, Fn::ImportValue), resolved in the stack that
// exports it; an export outside the assembly has no longest value.
func (r *resolver) imported(name string) any {
	for i := range r.s.peers {
		p := &r.s.peers[i]
		for _, raw := range p.Template.Outputs {
			var out struct {
				Value  any
				Export struct{ Name any }
			}
			if json.Unmarshal(raw, &out) != nil || out.Export.Name == nil {
				continue
			}
			if pr := newResolver(p); pr.str(out.Export.Name) == name {
				v := pr.value(out.Value)
				r.estimated = r.estimated || pr.estimated
				return v
			}
		}
	}
	return r.guess(guessLen)
}

// crossRegion is the value a CDK cross-Region reference reads (an
// attribute of the consumer's Custom::CrossRegionExportReader, named after
// the SSM parameter the producer's Custom::CrossRegionExportWriter
// writes), resolved in the producing stack.
func (r *resolver) crossRegion(param string) any {
	for i := range r.s.peers {
		p := &r.s.peers[i]
		for _, res := range p.Template.Resources {
			if res.Type != "Custom::CrossRegionExportWriter" {
				continue
			}
			props, _ := res.Properties["WriterProps"].(map[string]any)
			exports, _ := props["exports"].(map[string]any)
			if v, ok := exports[param]; ok {
				pr := newResolver(p)
				out := pr.value(v)
				r.estimated = r.estimated || pr.estimated
				return out
			}
		}
	}
	return r.guess(guessLen)
}
