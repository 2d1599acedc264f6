package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/awslimits"
)

// The longest configuration validation accepts (a 12-character
// environment name, a 12-digit account, Regions with the longest codes
// of one multi-Region strong consistency set, as the payment journal needs)
// still fits every AWS limit: the environment and Region are in nearly
// every ARN of the IAM policies. synth itself fails when a limit is
// crossed; the figures are read back to show the margin.
func TestLongestConfigurationFitsTheAWSLimits(t *testing.T) {
	root, _ := filepath.Abs("../..")
	build := fakeBuild(t, "")
	data, err := os.ReadFile(filepath.Join(root, "build", "payments", "rds-ca-bundle.pem"))
	if err != nil {
		if os.Getenv("CI") != "" { // make test builds the Lambda first
			t.Fatalf("the RDS CA bundle is missing from the payment asset: %v", err)
		}
		t.Skipf("run make lambda first: %v", err)
	}
	if err := os.WriteFile(filepath.Join(build, "payments", "rds-ca-bundle.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "longest.json")
	body := `{"environment":"abcdefghijkl","account":"123456789012","domainName":"payments.example.com","alarmEmail":"a@example.com",
"primaryRegion":"ap-northeast-3","secondaryRegion":"ap-northeast-1",
"availabilityZoneIds":{"ap-northeast-3":["apne3-az1","apne3-az2","apne3-az3"],"ap-northeast-1":["apne1-az1","apne1-az2","apne1-az4"]}}`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"-config", cfg, "-build-dir", build, "-out", out, "-nag=false"}, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	stacks, err := awslimits.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	figs := awslimits.Check(stacks)
	for _, f := range figs {
		if f.Limit == awslimits.ManagedPolicySize || f.Limit == awslimits.LambdaEnvSize {
			t.Log(f)
		}
	}
	all, err := os.ReadFile(filepath.Join(out, "limits.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(all), "limit: PaymentDr-abcdefghijkl-global DRReconcile") {
		t.Errorf("limits.txt has no figure for the DR policies:\n%s", all)
	}
	if n := strings.Count(string(all), "limit: "); n != len(figs) {
		t.Errorf("limits.txt holds %d figures, want all %d", n, len(figs))
	}
	near := 0
	for _, f := range figs {
		if 2*f.Value >= f.Limit.Max {
			near++
			if !strings.Contains(stdout.String(), "limit: "+f.String()+"\n") {
				t.Errorf("synth did not print %s, at half its limit or more", f)
			}
		}
	}
	if printed := strings.Count(stdout.String(), "limit: "); printed != near || near == len(figs) {
		t.Errorf("synth printed %d of %d figures, want the %d at half their limit or more", printed, len(figs), near)
	}
}
