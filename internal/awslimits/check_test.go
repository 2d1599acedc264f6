package awslimits

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeAssembly writes a one-stack cloud assembly around template.
func writeAssembly(t *testing.T, template map[string]any, uploaded bool) string {
	t.Helper()
	dir := t.TempDir()
	props := map[string]any{"templateFile": "S.template.json"}
	if uploaded {
		props["stackTemplateAssetObjectUrl"] = "s3://cdk-hnb659fds-assets-123456789012-us-east-1/x.json"
	}
	manifest := map[string]any{"artifacts": map[string]any{
		"S":    map[string]any{"type": "aws:cloudformation:stack", "environment": "aws://123456789012/us-east-1", "properties": props},
		"Tree": map[string]any{"type": "cdk:tree"},
	}}
	for name, v := range map[string]any{"manifest.json": manifest, "S.template.json": template} {
		b, _ := json.MarshalIndent(v, "", " ")
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func figure(t *testing.T, figs []Figure, subject string, l Limit) Figure {
	t.Helper()
	for _, f := range figs {
		if f.Subject == subject && f.Limit == l {
			return f
		}
	}
	t.Fatalf("no %s figure for %s", l.Name, subject)
	return Figure{}
}

func statement(resource any) map[string]any {
	return map[string]any{"Effect": "Allow", "Action": "route53:GetHostedZone", "Resource": resource}
}

func TestTokensResolveToTheirLongestValues(t *testing.T) {
	zone := map[string]any{"Fn::Join": []any{"", []any{"arn:aws:route53:::hostedzone/", map[string]any{"Ref": "Zone"}}}}
	check := map[string]any{"Fn::Sub": "arn:aws:route53:::healthcheck/${Check.HealthCheckId}"}
	tpl := map[string]any{"Resources": map[string]any{
		"Zone":  map[string]any{"Type": "AWS::Route53::HostedZone"},
		"Check": map[string]any{"Type": "AWS::Route53::HealthCheck"},
		"P": map[string]any{"Type": "AWS::IAM::ManagedPolicy", "Properties": map[string]any{"PolicyDocument": map[string]any{
			"Version": "2012-10-17", "Statement": []any{statement(zone), statement(check)}}}},
		"Q": map[string]any{"Type": "AWS::IAM::ManagedPolicy", "Properties": map[string]any{"PolicyDocument": map[string]any{
			"Statement": []any{statement(map[string]any{"Fn::ImportValue": "elsewhere"})}}}},
	}}
	stacks, err := Load(writeAssembly(t, tpl, true))
	if err != nil {
		t.Fatal(err)
	}
	figs := Check(stacks)
	p := figure(t, figs, "P", ManagedPolicySize)
	want := len(`{"Statement":[{"Action":"route53:GetHostedZone","Effect":"Allow","Resource":"arn:aws:route53:::hostedzone/` + strings.Repeat("0", 32) +
		`"},{"Action":"route53:GetHostedZone","Effect":"Allow","Resource":"arn:aws:route53:::healthcheck/00000000-0000-0000-0000-000000000000"}],"Version":"2012-10-17"}`)
	if p.Value != want || p.Estimated {
		t.Errorf("policy P: %v, want %d characters, exact", p, want)
	}
	if q := figure(t, figs, "Q", ManagedPolicySize); !q.Estimated {
		t.Errorf("an import has no longest value and must be marked estimated: %v", q)
	}
	if f := figure(t, figs, "template", TemplateS3Size); f.Value != len(stacks[0].Body) {
		t.Errorf("uploaded template measured against %v", f)
	}
}

func TestEachLimitIsReportedWhenCrossed(t *testing.T) {
	big := strings.Repeat("v", 4096)
	var rules []any
	for i := 0; i < 61; i++ {
		rules = append(rules, map[string]any{"IpProtocol": "tcp", "CidrIp": "10.0.0.0/16"})
	}
	res := map[string]any{
		"Role": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole",
				"Principal": map[string]any{"AWS": strings.Repeat("a", 2048)}}}},
			"Policies": []any{map[string]any{"PolicyName": "p", "PolicyDocument": map[string]any{"Statement": []any{statement(strings.Repeat("r", 10240))}}}},
		}},
		"Fn": map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{"Environment": map[string]any{"Variables": map[string]any{"BIG": big}}}},
		"SG": map[string]any{"Type": "AWS::EC2::SecurityGroup", "Properties": map[string]any{"SecurityGroupIngress": rules}},
		"Egress": map[string]any{"Type": "AWS::EC2::SecurityGroupEgress", "Properties": map[string]any{
			"GroupId": map[string]any{"Fn::GetAtt": []any{"SG", "GroupId"}}, "IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}},
	}
	for i := 0; i < 11; i++ {
		id := "Managed" + string(rune('A'+i))
		res[id] = map[string]any{"Type": "AWS::IAM::ManagedPolicy", "Properties": map[string]any{
			"Roles": []any{map[string]any{"Ref": "Role"}}, "PolicyDocument": map[string]any{"Statement": []any{statement("*")}}}}
	}
	outputs := map[string]any{}
	for i := 0; i < 201; i++ {
		outputs[strings.Repeat("O", i+1)] = map[string]any{"Value": "x"}
	}
	stacks, err := Load(writeAssembly(t, map[string]any{"Resources": res, "Outputs": outputs}, false))
	if err != nil {
		t.Fatal(err)
	}
	over := map[string]bool{}
	for _, f := range Over(Check(stacks)) {
		over[f.Subject+" "+f.Limit.Name] = true
	}
	for _, want := range []string{"Role " + TrustPolicySize.Name, "Role " + InlinePerRole.Name, "Role " + ManagedPerRole.Name,
		"Fn " + LambdaEnvSize.Name, "SG " + SGIngress.Name, "template " + Outputs.Name, "template " + TemplateBodySize.Name} {
		if !over[want] {
			t.Errorf("not reported: %s (reported %v)", want, over)
		}
	}
	if over["SG "+SGEgress.Name] {
		t.Error("one egress rule reported over the limit")
	}
}

// A reference to another stack of the assembly (an export in the same
// Region, CDK's cross-Region reader in another) resolves to the longest
// value of what its producer exports: exact, not estimated.
func TestCrossStackReferencesResolveInTheirProducer(t *testing.T) {
	producer := Stack{Name: "global", Region: "us-east-1", Template: Template{
		Resources: map[string]Resource{
			"Zone": {Type: "AWS::Route53::HostedZone"},
			"Writer": {Type: "Custom::CrossRegionExportWriter", Properties: map[string]any{"WriterProps": map[string]any{
				"exports": map[string]any{"/cdk/exports/west/zone": map[string]any{"Ref": "Zone"}}}}},
		},
		Outputs: map[string]json.RawMessage{"ZoneOut": json.RawMessage(`{"Value":{"Ref":"Zone"},"Export":{"Name":"global:zone"}}`)},
	}}
	policy := func(resource any) Resource {
		return Resource{Type: "AWS::IAM::ManagedPolicy", Properties: map[string]any{"PolicyDocument": map[string]any{
			"Statement": []any{statement(map[string]any{"Fn::Join": []any{"", []any{"arn:aws:route53:::hostedzone/", resource}}})}}}}
	}
	east := Stack{Name: "east", Region: "us-east-1", Template: Template{Resources: map[string]Resource{
		"P": policy(map[string]any{"Fn::ImportValue": "global:zone"})}}}
	west := Stack{Name: "west", Region: "us-west-2", Template: Template{Resources: map[string]Resource{
		"Reader": {Type: "Custom::CrossRegionExportReader"},
		"P":      policy(map[string]any{"Fn::GetAtt": []any{"Reader", "/cdk/exports/west/zone"}})}}}
	figs := Check([]Stack{producer, east, west})
	want := len(`{"Statement":[{"Action":"route53:GetHostedZone","Effect":"Allow","Resource":"arn:aws:route53:::hostedzone/` + strings.Repeat("0", 32) + `"}]}`)
	for _, f := range figs {
		if f.Subject == "P" && f.Limit == ManagedPolicySize && (f.Value != want || f.Estimated) {
			t.Errorf("%s: %v, want %d characters, exact", f.Stack, f, want)
		}
	}
}
