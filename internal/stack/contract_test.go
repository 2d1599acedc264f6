package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/backends"
)

// lambdaPolicy returns the policy document attached to the role whose
// logical id starts with rolePrefix.
func lambdaPolicy(t *testing.T, tpl template, rolePrefix string) string {
	t.Helper()
	var doc string
	for _, p := range tpl.ofType("AWS::IAM::ManagedPolicy") {
		if contains(p.Properties["Roles"], `{"Ref":"`+rolePrefix) {
			if doc != "" {
				t.Fatalf("two policies on %s", rolePrefix)
			}
			doc = jsonOf(p.Properties["PolicyDocument"])
		}
	}
	if doc == "" {
		t.Fatalf("no policy on role %s", rolePrefix)
	}
	return doc
}

// The contract with the payment service (an application DB user): a
// generated, replicated app secret; the payment Lambda reads only that
// and the API key; a migration function from the same asset holds the
// master and app secrets.
func TestAppUserSecretAndMigrationFunction(t *testing.T) {
	s := synthesize(t)
	primary := s.templates[s.cfg.PrimaryRegion]
	app := primary.one(t, "AWS::SecretsManager::Secret", map[string]any{"Name": "payment-dr/prod/db-app"})
	gen := jsonOf(app.Properties["GenerateSecretString"])
	if !strings.Contains(gen, `"SecretStringTemplate":"{\"username\":\"payments_app\"}"`) || !strings.Contains(gen, `"GenerateStringKey":"password"`) {
		t.Errorf("app secret generator %s", gen)
	}
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		pay := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": "payment-processor-" + region + "-prod"})
		mig := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": "payment-migrate-" + region + "-prod"})
		payEnv := prop(pay, "Environment", "Variables").(map[string]any)
		migEnv := prop(mig, "Environment", "Variables").(map[string]any)
		if payEnv["DB_SECRET_ID"] != "payment-dr/prod/db-app" || payEnv["APP_DB_SECRET_ID"] != nil {
			t.Errorf("%s: payment function secrets %v / %v", region, payEnv["DB_SECRET_ID"], payEnv["APP_DB_SECRET_ID"])
		}
		if migEnv["DB_SECRET_ID"] != "payment-dr/prod/db-master" || migEnv["APP_DB_SECRET_ID"] != "payment-dr/prod/db-app" {
			t.Errorf("%s: migration function secrets %v / %v", region, migEnv["DB_SECRET_ID"], migEnv["APP_DB_SECRET_ID"])
		}
		for _, k := range []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_TLS_CA_FILE", "SESSION_TABLE", "EVENT_BUS_NAME", "ENVIRONMENT"} {
			if jsonOf(payEnv[k]) != jsonOf(migEnv[k]) || payEnv[k] == nil {
				t.Errorf("%s: %s differs: %v vs %v", region, k, payEnv[k], migEnv[k])
			}
		}
		if jsonOf(pay.Properties["Code"]) != jsonOf(mig.Properties["Code"]) || jsonOf(pay.Properties["VpcConfig"]) != jsonOf(mig.Properties["VpcConfig"]) {
			t.Errorf("%s: the migration function is not the payment asset in the same network", region)
		}
		if jsonOf(pay.Properties["Role"]) == jsonOf(mig.Properties["Role"]) {
			t.Errorf("%s: the two functions share a role", region)
		}
		payDoc, migDoc := lambdaPolicy(t, tpl, "PaymentsRole"), lambdaPolicy(t, tpl, "MigrateRole")
		secrets := regexp.MustCompile(`secret:payment-dr/prod/[a-z-]+-\?{6}`)
		if got := strings.Join(secrets.FindAllString(payDoc, -1), " "); got != "secret:payment-dr/prod/db-app-?????? secret:payment-dr/prod/api-key-??????" {
			t.Errorf("%s: payment function reads %s", region, got)
		}
		if got := strings.Join(secrets.FindAllString(migDoc, -1), " "); got != "secret:payment-dr/prod/db-master-?????? secret:payment-dr/prod/db-app-??????" {
			t.Errorf("%s: migration function reads %s", region, got)
		}
	}
}

// With the parent zone configured, the global stack delegates the new
// zone itself, so ACM can validate during the first deploy.
func TestDelegationRecordInTheParentZone(t *testing.T) {
	s := synthesize(t)
	rec := s.templates["global"].one(t, "AWS::Route53::RecordSet", map[string]any{"Type": "NS"})
	if rec.Properties["HostedZoneId"] != s.cfg.ParentHostedZoneID || rec.Properties["Name"] != "payment-prod.example.com." {
		t.Errorf("delegation record %s", jsonOf(rec.Properties))
	}
	if !contains(rec.Properties["ResourceRecords"], `"Fn::GetAtt":["Zone`) || !contains(rec.Properties["ResourceRecords"], "NameServers") {
		t.Errorf("delegation does not name the new zone's servers: %s", jsonOf(rec.Properties["ResourceRecords"]))
	}
}

// cfn-lint over the test assembly (deletion protection on, parent zone
// set): 0 errors and 0 warnings beyond scripts/cfn-lint-ignore. make test
// also lints make synth's assembly (config/dev.json).
func TestTemplatesPassCfnLint(t *testing.T) {
	s := synthesize(t)
	out, err := runCfnLint(t, s.dir)
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
	if !strings.Contains(out, " 0 errors, 0 warnings") {
		t.Errorf("unexpected summary:\n%s", out)
	}
}

// The gate itself: a literal AZ name (W3010) and a stale-schema E3002
// outside the dashboard must fail it.
func TestCfnLintGateSeesFindings(t *testing.T) {
	dir := t.TempDir()
	tpl := `{"Resources": {
  "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
  "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24", "AvailabilityZone": "us-east-1a"}},
  "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Bogus": "x"}}}}`
	if err := os.WriteFile(filepath.Join(dir, "Probe.template.json"), []byte(tpl), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCfnLint(t, dir)
	if err == nil {
		t.Fatalf("the gate passed a template with findings:\n%s", out)
	}
	for _, want := range []string{"W3010", "E3002", "1 errors, 1 warnings"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func runCfnLint(t *testing.T, dir string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		backends.Missing(t, "cfn-lint is not installed: pip install 'cfn-lint==1.51.*'")
	}
	root, _ := filepath.Abs("../..")
	out, err := exec.Command(filepath.Join(root, "scripts", "cfn-lint.sh"), dir).CombinedOutput()
	return string(out), err
}

// Every physical name, ARN and secret pattern comes from internal/naming:
// none is assembled by hand in this package.
func TestPhysicalNamesComeFromNaming(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	handMade := regexp.MustCompile(`"arn:|\?\?\?\?\?\?|"/aws/|"alias/|"PaymentDr-|"payments?-[a-z-]*"\s*\+|\+\s*"-"\s*\+\s*r?\.?cfg\.Environment`)
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(data), "\n") {
			if handMade.MatchString(line) {
				t.Errorf("%s:%d builds a name by hand: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d source files checked", checked)
	}
}

// The payment service's outbox is swept every minute by a schedule that
// invokes the payment function (not the migration function).
func TestOutboxSweepSchedule(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		rule := tpl.one(t, "AWS::Events::Rule", map[string]any{"Name": "payment-outbox-sweep-" + region + "-prod"})
		targets := jsonOf(rule.Properties["Targets"])
		if rule.Properties["ScheduleExpression"] != "rate(1 minute)" || !strings.Contains(targets, `"Input":"{\"sweepOutbox\":true}"`) ||
			!strings.Contains(targets, `"PaymentsFunction`) {
			t.Errorf("%s: sweep rule %s", region, jsonOf(rule.Properties))
		}
	}
}
