package stack

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// The synthesized plan is arcplan's plan, property for property: the
// mapper to the CDK's types drops and renames nothing. The hosted zone's
// id is the one token, a reference to the global stack's zone.
func TestPlanIsArcplansPlan(t *testing.T) {
	s := synthesize(t)
	plans := s.templates["regionswitch"].ofType("AWS::ARCRegionSwitch::Plan")
	if len(plans) != 1 {
		t.Fatalf("%d plans in the regionswitch stack", len(plans))
	}
	got := plans[0].Properties
	delete(got, "Tags") // the app's Project and Environment tags
	zoneTokens := 0
	for _, w := range got["Workflows"].([]any) {
		for _, st := range w.(map[string]any)["Steps"].([]any) {
			cfg := st.(map[string]any)["ExecutionBlockConfiguration"].(map[string]any)
			if r53, ok := cfg["Route53HealthCheckConfig"].(map[string]any); ok {
				if !strings.Contains(jsonOf(r53["HostedZoneId"]), "RefZone") {
					t.Errorf("the zone id is not the global zone's: %s", jsonOf(r53["HostedZoneId"]))
				}
				r53["HostedZoneId"] = "ZONE"
				zoneTokens++
			}
		}
	}
	if zoneTokens == 0 {
		t.Error("no Route 53 health check step")
	}
	var want map[string]any
	data, _ := json.Marshal(arcplan.Build(s.cfg, arcplan.Inputs{HostedZoneID: "ZONE"}))
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if jsonOf(got) != jsonOf(want) {
		t.Errorf("synthesized plan\n%s\nwant arcplan's\n%s", jsonOf(got), jsonOf(want))
	}
}

// policyStatementsOf returns the statements of the managed policies
// attached to the role whose logical id starts with roleID.
func policyStatementsOf(tpl template, roleID string) []map[string]any {
	var out []map[string]any
	for _, p := range tpl.ofType("AWS::IAM::ManagedPolicy") {
		if !contains(p.Properties["Roles"], `"`+roleID) {
			continue
		}
		for _, st := range prop(p, "PolicyDocument", "Statement").([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func resourcesOf(st map[string]any) []any {
	if l, ok := st["Resource"].([]any); ok {
		return l
	}
	return []any{st["Resource"]}
}

// ARC alone assumes the execution role (the ARC developer guide's trust
// policy), and every statement names the plan's own resources: the two
// action functions, the global database, the two probe alarms, the plan,
// the role itself, the report prefix, and two tokens (the zone, the
// report key). No "*".
func TestExecutionRoleIsScopedToThePlansResources(t *testing.T) {
	s := synthesize(t)
	tpl, n, acct := s.templates["regionswitch"], naming.New(s.cfg.Environment, s.cfg.DomainName), s.cfg.Account
	role := tpl.one(t, "AWS::IAM::Role", map[string]any{"RoleName": n.RegionSwitchExecutionRole()})
	if got := jsonOf(prop(role, "AssumeRolePolicyDocument", "Statement")); got != `[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"arc-region-switch.amazonaws.com"}}]` {
		t.Errorf("execution role trust %s", got)
	}
	named := map[string]bool{
		n.GlobalClusterARN(acct): true, n.RegionSwitchPlanARNPattern(acct): true,
		naming.RoleARN(acct, n.RegionSwitchExecutionRole()):               true,
		"arn:aws:s3:::" + n.RegionSwitchReportBucket(acct) + "/reports/*": true,
	}
	for _, region := range s.cfg.Regions() {
		named[naming.FunctionARN(region, acct, n.ActionFunction(region))] = true
		named[n.ClusterARN(region, acct)] = true
		named[naming.AlarmARN(region, acct, n.NoWritableRegionSeenAlarm(region))] = true
	}
	statements := policyStatementsOf(tpl, "ExecutionRole")
	var sids []string
	for _, st := range statements {
		sids = append(sids, st["Sid"].(string))
		for _, r := range resourcesOf(st) {
			str, isString := r.(string)
			switch {
			case isString && !named[str]:
				t.Errorf("%s: %s is none of the plan's resources", st["Sid"], str)
			case !isString && st["Sid"] == "FailoverRecords" && contains(r, "hostedzone/") && contains(r, "RefZone"):
			case !isString && st["Sid"] == "ReportKey" && contains(r, "DataKey"):
			case !isString:
				t.Errorf("%s: unexpected token %s", st["Sid"], jsonOf(r))
			}
		}
	}
	sort.Strings(sids)
	if got := strings.Join(sids, " "); got != "CustomActions FailoverRecords MoveTheWriter PlanEvaluation ReadGlobalDatabase ReadPlan ReportKey Reports TriggerAlarms TriggerStart" {
		t.Errorf("execution role statements %s", got)
	}
}

// The approval role is the only one that approves: principals of the
// account assume it, and it may approve, and see, the plan's executions
// only. The DR role and the action functions cannot approve.
func TestOnlyTheApprovalRoleApproves(t *testing.T) {
	s := synthesize(t)
	tpl, n := s.templates["regionswitch"], naming.New(s.cfg.Environment, s.cfg.DomainName)
	role := tpl.one(t, "AWS::IAM::Role", map[string]any{"RoleName": n.RegionSwitchApprovalRole()})
	if got := jsonOf(prop(role, "AssumeRolePolicyDocument", "Statement")); !strings.Contains(got, `":iam::`+s.cfg.Account+`:root"`) || strings.Count(got, "sts:AssumeRole") != 1 {
		t.Errorf("approval role trust %s", got)
	}
	statements := policyStatementsOf(tpl, "ApprovalRole")
	if len(statements) != 1 || jsonOf(statements[0]["Resource"]) != jsonOf(n.RegionSwitchPlanARNPattern(s.cfg.Account)) ||
		!contains(statements[0]["Action"], "arc-region-switch:ApprovePlanExecutionStep") {
		t.Errorf("approval role statements %s", jsonOf(statements))
	}
	for key, tpl := range s.templates {
		for _, roleID := range []string{"DRAutomationRole", "RegionSwitchActionRole", "ExecutionRole", "ScheduledEvaluateRole"} {
			if contains(policyStatementsOf(tpl, roleID), "ApprovePlanExecutionStep") {
				t.Errorf("%s %s can approve the plan's step", key, roleID)
			}
		}
	}
}

// Each Region has its drctl-action function: outside any VPC, Lambda's
// longest timeout, the validated config, and the DR role's statements
// (drpolicy.ActionPolicies) beside its log access.
func TestActionFunctionInEachRegion(t *testing.T) {
	s := synthesize(t)
	n := naming.New(s.cfg.Environment, s.cfg.DomainName)
	var want []string
	for _, p := range drpolicy.ActionPolicies(s.cfg) {
		for _, st := range p.Statements {
			want = append(want, st.Sid)
		}
	}
	want = append(want, "Logs")
	sort.Strings(want)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		fn := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": n.ActionFunction(region)})
		if jsonOf(prop(fn, "Timeout")) != "900" || jsonOf(prop(fn, "MemorySize")) != "256" || jsonOf(prop(fn, "Architectures")) != `["arm64"]` || prop(fn, "VpcConfig") != nil {
			t.Errorf("%s: action function %s", region, jsonOf(fn.Properties))
		}
		if env, _ := prop(fn, "Environment", "Variables", "PAYMENT_DR_CONFIG_JSON").(string); !strings.Contains(env, `"environment":"`+s.cfg.Environment+`"`) {
			t.Errorf("%s: config %q", region, env)
		}
		var sids []string
		for _, st := range policyStatementsOf(tpl, "RegionSwitchActionRole") {
			sids = append(sids, st["Sid"].(string))
		}
		sort.Strings(sids)
		if strings.Join(sids, " ") != strings.Join(want, " ") {
			t.Errorf("%s: action role statements\n%v\nwant\n%v", region, sids, want)
		}
	}
}

// The report bucket is encrypted with the stack's customer key, private,
// TLS only, versioned, expiring, and logs its access.
func TestReportBucket(t *testing.T) {
	s := synthesize(t)
	tpl, n := s.templates["regionswitch"], naming.New(s.cfg.Environment, s.cfg.DomainName)
	b := tpl.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": n.RegionSwitchReportBucket(s.cfg.Account)})
	for _, check := range []struct{ what, got, want string }{
		{"encryption", jsonOf(prop(b, "BucketEncryption")), `"SSEAlgorithm":"aws:kms"`},
		{"key", jsonOf(prop(b, "BucketEncryption")), "DataKey"},
		{"public access", jsonOf(prop(b, "PublicAccessBlockConfiguration")), `"RestrictPublicBuckets":true`},
		{"versioning", jsonOf(prop(b, "VersioningConfiguration")), `"Enabled"`},
		{"lifecycle", jsonOf(prop(b, "LifecycleConfiguration")), `"ExpirationInDays":400`},
		{"access logs", jsonOf(prop(b, "LoggingConfiguration")), "ReportAccessLogs"},
	} {
		if !strings.Contains(check.got, check.want) {
			t.Errorf("%s: %s lacks %s", check.what, check.got, check.want)
		}
	}
	policy := jsonOf(tpl.ofType("AWS::S3::BucketPolicy"))
	for _, want := range []string{`"aws:SecureTransport":"false"`, n.RegionSwitchReportBucket(s.cfg.Account) + "/reports/*"} {
		if !strings.Contains(policy, want) {
			t.Errorf("bucket policies lack %s", want)
		}
	}
}
