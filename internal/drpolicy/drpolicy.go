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
	Sid        string
	Actions    []string
	Resources  []string
	Conditions []Condition // all must hold; none when empty
}

// Condition is one IAM condition, e.g. StringEquals kms:ViaService.
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

// Context is what a request must carry to satisfy the statement's
// conditions: the context entries a policy simulation passes (every
// operator used here is an equality, so the values themselves do).
func (s Statement) Context() map[string][]string {
	if len(s.Conditions) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, c := range s.Conditions {
		out[c.Key] = append(out[c.Key], c.Values...)
	}
	return out
}

// ConditionMap renders the conditions as an IAM policy Condition block.
func (s Statement) ConditionMap() map[string]any {
	if len(s.Conditions) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, c := range s.Conditions {
		ops, _ := out[c.Operator].(map[string]any)
		if ops == nil {
			ops = map[string]any{}
			out[c.Operator] = ops
		}
		if len(c.Values) == 1 {
			ops[c.Key] = c.Values[0]
		} else {
			ops[c.Key] = c.Values
		}
	}
	return out
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
	var clusters, params, tables, vaults, functions, secrets, snapshots, restore, subnetGroups, dbSecrets []string
	for _, r := range cfg.Regions() {
		clusters = append(clusters, n.ClusterARN(r, acct))
		for _, p := range []string{n.ActiveRegionParam(), n.WriterEndpointParam(), n.ZoneIDParam(), n.HealthCheckParam(cfg.PrimaryRegion), n.HealthCheckParam(cfg.SecondaryRegion)} {
			params = append(params, naming.ParameterARN(r, acct, p))
		}
		tables = append(tables, n.TableARN(r, acct))
		vaults = append(vaults, n.BackupVaultARN(r, acct))
		functions = append(functions, naming.FunctionARN(r, acct, n.PaymentFunction(r)))
		secrets = append(secrets, naming.SecretARNPattern(r, acct, n.APIKeySecretName()))
		snapshots = append(snapshots, n.LostWritesSnapshotARNs(r, acct)...)
		restore = append(restore, n.ReconcileARNs(r, acct)...)
		subnetGroups = append(subnetGroups, n.DBSubnetGroupARN(r, acct))
		dbSecrets = append(dbSecrets, naming.SecretARNPattern(r, acct, n.DBSecretName()))
	}
	global := n.GlobalClusterARN(acct)

	zone := naming.HostedZoneARN(id.ZoneID)
	var checks []string
	for _, r := range cfg.Regions() {
		if hc := id.HealthChecks[r]; hc != "" {
			checks = append(checks, naming.HealthCheckARN(hc))
		}
	}
	if len(checks) != len(cfg.Regions()) {
		checks = []string{naming.HealthCheckARN("")}
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
		// An unplanned failover fences the old Region's payment service
		// (reserved concurrency 0); failback lifts it.
		{Sid: "FenceOldPrimary", Actions: []string{"lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"}, Resources: functions},
		// It then keeps the old primary's unplanned-failover snapshot (the
		// lost writes) as a manual copy that does not expire.
		{Sid: "KeepLostWrites", Actions: []string{"rds:DescribeDBClusterSnapshots", "rds:CopyDBClusterSnapshot"}, Resources: append(append([]string{}, clusters...), snapshots...)},
		// drctl reconcile restores the kept copy into a temporary cluster
		// (deleted afterwards), reads it and writes the writer through the
		// Data API with the database secret.
		{Sid: "ReconcileRestore", Actions: []string{"rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance", "rds:DescribeDBInstances", "rds:EnableHttpEndpoint", "rds:DeleteDBInstance", "rds:DeleteDBCluster", "rds:AddTagsToResource"},
			Resources: append(append(append([]string{}, restore...), snapshots...), subnetGroups...)},
		{Sid: "ReconcileData", Actions: []string{"rds-data:ExecuteStatement", "rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"},
			Resources: append(append([]string{}, clusters...), restore...)},
		{Sid: "ReconcileSecret", Actions: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, Resources: dbSecrets},
		{Sid: "CanaryAPIKey", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: secrets},
		// The primary Region's secrets are encrypted with its customer key,
		// whose id the global stack (deployed first) cannot know: any key
		// there, but only through Secrets Manager, and GetSecretValue above
		// limits which secret. Replicas use the AWS-managed key, which
		// needs no grant.
		{Sid: "CanaryAPIKeyDecrypt", Actions: []string{"kms:Decrypt"}, Resources: []string{naming.KeysARNPattern(cfg.PrimaryRegion, acct)},
			Conditions: []Condition{{Operator: "StringEquals", Key: "kms:ViaService", Values: []string{naming.ViaService("secretsmanager", cfg.PrimaryRegion)}}}},
		// The old primary's snapshots are encrypted with its Region's
		// customer key: copying one (KeepLostWrites) and restoring it
		// (ReconcileRestore) make RDS create grants on that key for the
		// caller. Only through RDS in that Region, and the key's id is
		// created after the global stack, hence key/* per Region.
		snapshotKeys("KeptSnapshotKeysPrimary", cfg.PrimaryRegion, acct),
		snapshotKeys("KeptSnapshotKeysSecondary", cfg.SecondaryRegion, acct),
		{Sid: "SimulateOwnPolicy", Actions: []string{"iam:SimulatePrincipalPolicy"}, Resources: []string{naming.RoleARN(acct, n.DRRole())}},
		// GetCallerIdentity needs no permission and cannot be denied, so it
		// is not listed. CloudWatch GetMetricData supports no resource-level
		// permissions (the service authorizes it only on "*"), so this is
		// the one unscoped statement; it reads metrics, never changes them.
		{Sid: "ReplicationMetrics", Actions: []string{"cloudwatch:GetMetricData"}, Resources: []string{"*"}},
	}
}

// snapshotKeys lets RDS in region use that Region's keys on the caller's
// behalf (grants for snapshot copies and restores), and nothing else.
func snapshotKeys(sid, region, acct string) Statement {
	return Statement{Sid: sid, Actions: []string{"kms:CreateGrant", "kms:DescribeKey"}, Resources: []string{naming.KeysARNPattern(region, acct)},
		Conditions: []Condition{{Operator: "StringEquals", Key: "kms:ViaService", Values: []string{naming.ViaService("rds", region)}}}}
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
			// Decrypt only reads (the API key, through Secrets Manager).
			if strings.HasPrefix(verb, "Describe") || strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "List") || strings.HasPrefix(verb, "Simulate") || verb == "Decrypt" {
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
