package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/awslimits"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
)

// Every stack of the assembly is within the documented AWS limits, each
// value resolved to the longest it can take at deploy time: the first
// deploy must not stop half-way on a quota.
func TestEveryStackIsWithinTheAWSLimits(t *testing.T) {
	s := synthesize(t)
	stacks, err := awslimits.Load(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	figs := awslimits.Check(stacks)
	for _, f := range figs {
		t.Log(f)
		// An IAM policy's figure must be exact: every token in it has a
		// longest-value rule (internal/awslimits/resolve.go).
		if f.Estimated && (f.Limit == awslimits.ManagedPolicySize || f.Limit == awslimits.TrustPolicySize || f.Limit == awslimits.InlinePerRole) {
			t.Errorf("estimated, not measured: %v", f)
		}
	}
	for _, f := range awslimits.Over(figs) {
		t.Error(f)
	}
	seen := map[awslimits.Limit]bool{}
	for _, f := range figs {
		seen[f.Limit] = true
	}
	// Every limit of the table is measured somewhere, except the inline
	// template limit (cdk deploy uploads every template to S3).
	for _, l := range awslimits.Table {
		if !seen[l] && l != awslimits.TemplateBodySize {
			t.Errorf("no figure for %s", l.Name)
		}
	}
}

// The DR role holds its permissions as several managed policies, each
// under IAM's size limit, and together exactly drpolicy's statements:
// what drctl evaluate simulates is what the role has.
func TestDRRolePoliciesTogetherAreTheSimulatedStatements(t *testing.T) {
	s := synthesize(t)
	var sids []string
	n := 0
	for _, p := range s.templates["global"].ofType("AWS::IAM::ManagedPolicy") {
		if !contains(p.Properties["Roles"], "DRAutomationRole") {
			continue
		}
		n++
		doc := p.Properties["PolicyDocument"].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			sids = append(sids, st.(map[string]any)["Sid"].(string))
		}
	}
	var want []string
	for _, st := range drpolicy.Statements(s.cfg) {
		want = append(want, st.Sid)
	}
	sort.Strings(sids)
	sort.Strings(want)
	if strings.Join(sids, " ") != strings.Join(want, " ") {
		t.Errorf("DR role statements\n%v\nwant\n%v", sids, want)
	}
	if n != len(drpolicy.Policies(s.cfg)) || n > awslimits.ManagedPerRole.Max {
		t.Errorf("%d managed policies on the DR role", n)
	}
}

// The check fails when a limit is crossed: the DR role's first policy,
// grown statement by statement past 6,144 characters, is reported.
func TestLimitCheckFailsWhenAPolicyGrowsPastTheLimit(t *testing.T) {
	s := synthesize(t)
	dir := t.TempDir()
	for _, f := range []string{"manifest.json"} {
		copyFile(t, filepath.Join(s.dir, f), filepath.Join(dir, f))
	}
	var manifest struct {
		Artifacts map[string]struct {
			Type       string `json:"type"`
			Properties struct {
				TemplateFile string `json:"templateFile"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	data, _ := os.ReadFile(filepath.Join(s.dir, "manifest.json"))
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	var global string
	for _, a := range manifest.Artifacts {
		if a.Type == "aws:cloudformation:stack" {
			copyFile(t, filepath.Join(s.dir, a.Properties.TemplateFile), filepath.Join(dir, a.Properties.TemplateFile))
			if strings.HasSuffix(a.Properties.TemplateFile, "-global.template.json") {
				global = filepath.Join(dir, a.Properties.TemplateFile)
			}
		}
	}
	var tpl map[string]any
	data, _ = os.ReadFile(global)
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	var grown string
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == "AWS::IAM::ManagedPolicy" && contains(res["Properties"].(map[string]any)["Roles"], "DRAutomationRole") {
			grown = id
			doc := res["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
			st := doc["Statement"].([]any)
			// The added statements alone exceed the limit: the raw document
			// holds tokens (Fn::Join, Ref) that may resolve shorter than
			// they are written, so its raw length proves nothing.
			for added := 0; added <= 6144; {
				extra := map[string]any{"Effect": "Allow", "Action": "ssm:GetParameter",
					"Resource": "arn:aws:ssm:us-east-1:111111111111:parameter/payment/prod/grown/" + strings.Repeat("p", 40)}
				added += len(jsonOf(extra))
				st = append(st, extra)
				doc["Statement"] = st
			}
			break
		}
	}
	out, _ := json.Marshal(tpl)
	if err := os.WriteFile(global, out, 0o644); err != nil {
		t.Fatal(err)
	}
	stacks, err := awslimits.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	over := awslimits.Over(awslimits.Check(stacks))
	if len(over) != 1 || over[0].Subject != grown || over[0].Limit != awslimits.ManagedPolicySize {
		t.Fatalf("grown policy %s: over the limit %v", grown, over)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The scheduled evaluator runs every 15 minutes without MFA: its policy
// lets it read no secret value and decrypt nothing.
func TestScheduledEvaluatorReadsNoSecret(t *testing.T) {
	s := synthesize(t)
	found := false
	for _, p := range s.templates["global"].ofType("AWS::IAM::ManagedPolicy") {
		if !contains(p.Properties["Roles"], "ScheduledEvaluateRole") {
			continue
		}
		found = true
		doc := jsonOf(p.Properties["PolicyDocument"])
		for _, secret := range []string{"secretsmanager:GetSecretValue", "kms:Decrypt", "secretsmanager:*", "kms:*"} {
			if strings.Contains(doc, `"`+secret+`"`) {
				t.Errorf("the evaluator's policy allows %s: %s", secret, doc)
			}
		}
	}
	if !found {
		t.Fatal("evaluator policy not found")
	}
}
