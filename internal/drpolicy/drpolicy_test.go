package drpolicy

import (
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/config"
)

func cfg() config.Config {
	c := config.Default()
	c.Environment, c.DomainName, c.AlarmEmail = "prod", "example.com", "a@example.com"
	return c
}

func TestStatementsAreScopedToNamedResources(t *testing.T) {
	st := Statements(cfg(), IDs{ZoneID: "Z123", HealthChecks: map[string]string{"us-east-1": "hc-e", "us-west-2": "hc-w"}})
	all := map[string]Statement{}
	for _, s := range st {
		all[s.Sid] = s
		for _, a := range s.Actions {
			if strings.HasSuffix(a, "*") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
		}
		for _, r := range s.Resources {
			// GetMetricData and ListPlansInRegion have no resource type.
			if r == "*" && s.Sid != "ReplicationMetrics" && s.Sid != "PlansInRegion" {
				t.Errorf("%s: unscoped resource", s.Sid)
			}
		}
	}
	move := strings.Join(all["MoveTheWriter"].Resources, " ")
	for _, want := range []string{
		"arn:aws:rds::111111111111:global-cluster:payments-global-prod",
		"arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-prod",
		"arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-prod",
	} {
		if !strings.Contains(move, want) {
			t.Errorf("MoveTheWriter lacks %s", want)
		}
	}
	if got := all["FailoverRecords"].Resources; len(got) != 1 || got[0] != "arn:aws:route53:::hostedzone/Z123" {
		t.Errorf("zone scope %v", got)
	}
	if got := strings.Join(all["HealthChecks"].Resources, " "); got != "arn:aws:route53:::healthcheck/hc-e arn:aws:route53:::healthcheck/hc-w" {
		t.Errorf("health checks %s", got)
	}
	if !strings.Contains(strings.Join(all["DRParameters"].Resources, " "), "arn:aws:ssm:us-west-2:111111111111:parameter/payment/prod/dr/active-region") {
		t.Errorf("parameters %v", all["DRParameters"].Resources)
	}
}

func TestUnknownIDsFallBackToTheTypeWildcard(t *testing.T) {
	st := Statements(cfg(), IDs{HealthChecks: map[string]string{"us-east-1": "only-one"}})
	for _, s := range st {
		if s.Sid == "HealthChecks" && strings.Join(s.Resources, ",") != "arn:aws:route53:::healthcheck/*" {
			t.Errorf("partial ids must not silently drop a Region: %v", s.Resources)
		}
	}
	if a := actionsOf(st); len(a) < 15 || a[0] != "rds:DescribeGlobalClusters" {
		t.Errorf("actions %v", a)
	}
}

func TestReadOnlyDropsEveryChange(t *testing.T) {
	ro := ReadOnly(Statements(cfg(), IDs{}))
	all := strings.Join(actionsOf(ro), " ")
	for _, changing := range []string{"rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster", "ssm:PutParameter"} {
		if strings.Contains(all, changing) {
			t.Errorf("read-only set contains %s", changing)
		}
	}
	for _, reading := range []string{"rds:DescribeGlobalClusters", "ssm:GetParameter", "route53:GetHealthCheckStatus", "iam:SimulatePrincipalPolicy", "backup:ListRecoveryPointsByBackupVault"} {
		if !strings.Contains(all, reading) {
			t.Errorf("read-only set lacks %s", reading)
		}
	}
}

// actionsOf lists the statements' actions, each once, in order.
func actionsOf(statements []Statement) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range statements {
		for _, a := range s.Actions {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// The scheduled evaluator (the read-only set) runs without MFA: it may
// read no secret value (the database master password, the API key) and
// decrypt nothing, although those verbs only read.
func TestReadOnlyReadsNoSecretValue(t *testing.T) {
	for _, s := range ReadOnly(Statements(cfg(), IDs{})) {
		for _, a := range s.Actions {
			if a == "secretsmanager:GetSecretValue" || a == "kms:Decrypt" {
				t.Errorf("%s: the read-only set may %s on %v", s.Sid, a, s.Resources)
			}
		}
	}
	if !strings.Contains(strings.Join(actionsOf(ReadOnly(Statements(cfg(), IDs{}))), " "), "secretsmanager:DescribeSecret") {
		t.Error("the read-only set lost the secret's metadata (DescribeSecret reads no value)")
	}
}

// The DR role's policies are split by concern, each statement in exactly
// one, and Statements is all of them: what evaluate simulates.
func TestPoliciesTogetherAreStatements(t *testing.T) {
	var sids []string
	for _, p := range Policies(cfg(), IDs{}) {
		if len(p.Statements) == 0 || !strings.HasPrefix(p.Name, "DR") {
			t.Errorf("policy %+v", p)
		}
		for _, s := range p.Statements {
			sids = append(sids, s.Sid)
		}
	}
	var want []string
	seen := map[string]bool{}
	for _, s := range Statements(cfg(), IDs{}) {
		want = append(want, s.Sid)
		if seen[s.Sid] {
			t.Errorf("statement %s twice", s.Sid)
		}
		seen[s.Sid] = true
	}
	if strings.Join(sids, " ") != strings.Join(want, " ") || len(Policies(cfg())) > 10 {
		t.Errorf("policies %v, statements %v", sids, want)
	}
}

// The API key's secret is encrypted with the primary Region's customer
// key: GetSecretValue alone cannot read it. kms:Decrypt is granted only
// through Secrets Manager in that Region, to the DR role (the drill's
// canaries), never to the read-only set.
func TestAPIKeyIsDecryptableOnlyThroughSecretsManager(t *testing.T) {
	for name, st := range map[string][]Statement{"full": Statements(cfg(), IDs{})} {
		var kms []Statement
		for _, s := range st {
			if strings.Contains(strings.Join(s.Actions, " "), "kms:Decrypt") {
				kms = append(kms, s)
			}
		}
		if len(kms) != 1 || strings.Join(kms[0].Actions, " ") != "kms:Decrypt" {
			t.Fatalf("%s: want one kms:Decrypt statement, got %+v", name, kms)
		}
		s := kms[0]
		if strings.Join(s.Resources, " ") != "arn:aws:kms:us-east-1:111111111111:key/*" {
			t.Errorf("%s: resources %v", name, s.Resources)
		}
		if len(s.Conditions) != 1 || s.Conditions[0].Operator != "StringEquals" || s.Conditions[0].Key != "kms:ViaService" ||
			strings.Join(s.Conditions[0].Values, " ") != "secretsmanager.us-east-1.amazonaws.com" {
			t.Errorf("%s: conditions %+v", name, s.Conditions)
		}
		if got := s.Context(); strings.Join(got["kms:ViaService"], " ") != "secretsmanager.us-east-1.amazonaws.com" {
			t.Errorf("%s: simulation context %v", name, got)
		}
	}
}

// Copying the old primary's encrypted unplanned-failover snapshot and
// restoring it need grants on that Region's key, through RDS only.
func TestKeptSnapshotKeysOnlyThroughRDSInTheirRegion(t *testing.T) {
	got := map[string]Statement{}
	for _, s := range Statements(cfg(), IDs{}) {
		if strings.Contains(strings.Join(s.Actions, " "), "kms:CreateGrant") {
			got[s.Resources[0]] = s
		}
	}
	for _, region := range cfg().Regions() {
		s, ok := got["arn:aws:kms:"+region+":111111111111:key/*"]
		if !ok || strings.Join(s.Actions, " ") != "kms:CreateGrant kms:DescribeKey" || len(s.Resources) != 1 {
			t.Fatalf("%s: snapshot key statement %+v", region, s)
		}
		if len(s.Conditions) != 1 || s.Conditions[0].Key != "kms:ViaService" || strings.Join(s.Conditions[0].Values, " ") != "rds."+region+".amazonaws.com" {
			t.Errorf("%s: conditions %+v", region, s.Conditions)
		}
	}
	if len(got) != 2 {
		t.Errorf("%d snapshot key statements, want one per Region", len(got))
	}
	for _, s := range ReadOnly(Statements(cfg(), IDs{})) {
		if strings.Contains(strings.Join(s.Actions, " "), "kms:CreateGrant") {
			t.Errorf("the read-only policy may create grants: %+v", s)
		}
	}
}

// The operator drives the ARC plan's executions through the DR role, on
// the plan alone; approving a step is never the DR role's (the approval
// role holds it), and the drctl-action function only reads executions.
func TestRegionSwitchPermissions(t *testing.T) {
	plan := "arn:aws:arc-region-switch::111111111111:plan/payment-dr-prod:*"
	executed := "arn:aws:arc-region-switch::111111111111:plan/payment-dr-prod:abc123"
	dr := Statements(cfg())
	for _, a := range []string{"StartPlanExecution", "GetPlanExecution", "ListPlanExecutions", "CancelPlanExecution"} {
		if !Allows(dr, "arc-region-switch:"+a, executed, nil) {
			t.Errorf("the DR role cannot %s on the plan", a)
		}
		if Allows(dr, "arc-region-switch:"+a, "arn:aws:arc-region-switch::111111111111:plan/other:abc123", nil) {
			t.Errorf("the DR role can %s on another plan", a)
		}
	}
	if Allows(dr, "arc-region-switch:ApprovePlanExecutionStep", executed, nil) {
		t.Error("the DR role can approve a step")
	}
	if !Allows(dr, "arc-region-switch:ListPlansInRegion", "*", nil) {
		t.Error("the DR role cannot find the plan")
	}
	var action []Statement
	for _, p := range ActionPolicies(cfg()) {
		action = append(action, p.Statements...)
	}
	if !Allows(action, "arc-region-switch:GetPlanExecution", executed, nil) {
		t.Error("the action cannot read its execution")
	}
	for _, a := range []string{"StartPlanExecution", "CancelPlanExecution", "ListPlanExecutions", "ApprovePlanExecutionStep", "ListPlansInRegion"} {
		if Allows(action, "arc-region-switch:"+a, executed, nil) || Allows(action, "arc-region-switch:"+a, "*", nil) {
			t.Errorf("the action can %s", a)
		}
	}
	if got := PlanExecutionRead(cfg()).Resources; len(got) != 1 || got[0] != plan {
		t.Errorf("plan scope %v", got)
	}
}

// The action holds every DR statement but the operator's ARC ones: it
// runs drctl's steps with the same calls.
func TestActionPoliciesAreTheDRPoliciesButTheOperatorsARCCalls(t *testing.T) {
	action := map[string]bool{}
	for _, p := range ActionPolicies(cfg()) {
		for _, s := range p.Statements {
			action[s.Sid] = true
		}
	}
	for _, s := range Statements(cfg()) {
		operator := s.Sid == "PlanExecutions" || s.Sid == "PlansInRegion"
		if action[s.Sid] == operator {
			t.Errorf("%s: held by the action = %v", s.Sid, action[s.Sid])
		}
	}
	if len(ActionPolicies(cfg())) != len(Policies(cfg())) {
		t.Error("the action's policies differ in number from the DR role's")
	}
}
