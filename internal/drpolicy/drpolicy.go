// Package drpolicy is the single list of IAM permissions drctl needs. The
// infrastructure turns it into the DR automation role's policy and
// `drctl evaluate` simulates the same list against the caller, so the role
// and the check cannot drift apart. It has no AWS SDK or CDK dependency.
package drpolicy

import (
	"strings"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Statement is one IAM policy statement (Effect Allow).
type Statement struct {
	Sid       string
	Actions   []string
	Resources []string
}

// IDs are the identifiers AWS assigns at deploy time. The CDK app passes
// tokens that CloudFormation resolves; drctl passes the values it reads
// from SSM. Empty values fall back to the service's wildcard for that type.
type IDs struct {
	ZoneID       string
	HealthChecks map[string]string // Region -> health-check id
}

// Statements returns the permissions of the DR role, each scoped to the
// named resources of the environment. ids are optional: without them (or
// with an id missing) the zone and health checks fall back to the type's
// wildcard in the account's global Route 53 namespace, never to "*".
func Statements(cfg config.Config, ids ...IDs) []Statement {
	var id IDs
	if len(ids) > 0 {
		id = ids[0]
	}
	n := naming.New(cfg.Environment, cfg.DomainName)
	acct := cfg.Account
	arn := func(service, region, resource string) string {
		return "arn:aws:" + service + ":" + region + ":" + acct + ":" + resource
	}
	var clusters, params, tables, vaults, functions, secrets []string
	for _, r := range cfg.Regions() {
		clusters = append(clusters, arn("rds", r, "cluster:"+n.ClusterID(r)))
		for _, p := range []string{n.ActiveRegionParam(), n.WriterEndpointParam(), n.ZoneIDParam(), n.HealthCheckParam(cfg.PrimaryRegion), n.HealthCheckParam(cfg.SecondaryRegion)} {
			params = append(params, arn("ssm", r, "parameter"+p))
		}
		tables = append(tables, arn("dynamodb", r, "table/"+n.SessionTable()))
		vaults = append(vaults, arn("backup", r, "backup-vault:"+n.BackupVault(r)))
		functions = append(functions, arn("lambda", r, "function:"+n.PaymentFunction(r)))
		secrets = append(secrets, arn("secretsmanager", r, "secret:"+n.APIKeySecretName()+"-??????"))
	}
	global := "arn:aws:rds::" + acct + ":global-cluster:" + n.GlobalClusterID()

	zone := "arn:aws:route53:::hostedzone/*"
	if id.ZoneID != "" {
		zone = "arn:aws:route53:::hostedzone/" + id.ZoneID
	}
	var checks []string
	for _, r := range cfg.Regions() {
		if hc := id.HealthChecks[r]; hc != "" {
			checks = append(checks, "arn:aws:route53:::healthcheck/"+hc)
		}
	}
	if len(checks) != len(cfg.Regions()) {
		checks = []string{"arn:aws:route53:::healthcheck/*"}
	}

	return []Statement{
		{Sid: "ReadGlobalDatabase", Actions: []string{"rds:DescribeGlobalClusters", "rds:DescribeDBClusters"}, Resources: append([]string{global}, clusters...)},
		// Switchover and failover name the global cluster and the target
		// member cluster as resources.
		{Sid: "MoveTheWriter", Actions: []string{"rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"}, Resources: append([]string{global}, clusters...)},
		{Sid: "DRParameters", Actions: []string{"ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter"}, Resources: params},
		{Sid: "FailoverRecords", Actions: []string{"route53:ListResourceRecordSets", "route53:GetHostedZone"}, Resources: []string{zone}},
		{Sid: "HealthChecks", Actions: []string{"route53:GetHealthCheck", "route53:GetHealthCheckStatus"}, Resources: checks},
		{Sid: "SessionTable", Actions: []string{"dynamodb:DescribeTable"}, Resources: tables},
		// The optional DynamoDB copy of a run's journal is one item
		// (sessionId "drctl-run#<run-id>") in the same global table, so it
		// survives the loss of either Region.
		{Sid: "RunJournal", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resources: tables},
		{Sid: "RecoveryPoints", Actions: []string{"backup:ListRecoveryPointsByBackupVault", "backup:DescribeBackupVault"}, Resources: vaults},
		// GetFunction returns the state and reserved concurrency (capacity).
		{Sid: "PaymentFunctions", Actions: []string{"lambda:GetFunction"}, Resources: functions},
		{Sid: "CanaryAPIKey", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: secrets},
		{Sid: "SimulateOwnPolicy", Actions: []string{"iam:SimulatePrincipalPolicy"}, Resources: []string{"arn:aws:iam::" + acct + ":role/" + n.DRRole()}},
		// GetCallerIdentity needs no permission and cannot be denied, so it
		// is not listed. CloudWatch GetMetricData supports no resource-level
		// permissions (the service authorizes it only on "*"), so this is
		// the one unscoped statement; it reads metrics, never changes them.
		{Sid: "ReplicationMetrics", Actions: []string{"cloudwatch:GetMetricData"}, Resources: []string{"*"}},
	}
}

// Actions returns every action of the statements, for simulation.
func Actions(statements []Statement) []string {
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

// ReadOnly keeps the actions that observe and drops those that change
// anything: the scheduled evaluator needs no more.
func ReadOnly(statements []Statement) []Statement {
	var out []Statement
	for _, s := range statements {
		var actions []string
		for _, a := range s.Actions {
			verb := a[strings.Index(a, ":")+1:]
			if strings.HasPrefix(verb, "Describe") || strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "List") || strings.HasPrefix(verb, "Simulate") {
				actions = append(actions, a)
			}
		}
		if len(actions) > 0 {
			s.Actions = actions
			out = append(out, s)
		}
	}
	return out
}
