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

// Policy is one customer-managed policy of the DR role. The role's
// permissions are split by concern because IAM limits a managed policy to
// 6,144 characters (docs/aws-limits.md) and lets a role hold ten.
type Policy struct {
	Name       string // the policy's id in the stack, e.g. DRDatabaseMoves
	Statements []Statement
}

// Statements returns every permission of the DR role, all policies
// together: what drctl evaluate simulates.
func Statements(cfg config.Config, ids ...IDs) []Statement {
	var out []Statement
	for _, p := range Policies(cfg, ids...) {
		out = append(out, p.Statements...)
	}
	return out
}

// Policies returns the permissions of the DR role, each scoped to the
// named resources of the environment, grouped into managed policies by
// concern. ids are optional: without them (or with an id missing) the
// zone and health checks fall back to the type's wildcard in the
// account's global Route 53 namespace, never to "*".
func Policies(cfg config.Config, ids ...IDs) []Policy {
	var id IDs
	if len(ids) > 0 {
		id = ids[0]
	}
	r := newResources(cfg, id)
	return []Policy{
		{Name: "DRDatabaseMoves", Statements: []Statement{
			{Sid: "ReadGlobalDatabase", Actions: []string{"rds:DescribeGlobalClusters", "rds:DescribeDBClusters"}, Resources: r.globalAndClusters()},
			// Switchover and failover name the global cluster and the
			// target member cluster as resources.
			{Sid: "MoveTheWriter", Actions: []string{"rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"}, Resources: r.globalAndClusters()},
			// GetCallerIdentity needs no permission and cannot be denied,
			// so it is not listed. CloudWatch GetMetricData supports no
			// resource-level permissions (the service authorizes it only
			// on "*"), so this is the one unscoped statement; it reads
			// metrics, never changes them.
			{Sid: "ReplicationMetrics", Actions: []string{"cloudwatch:GetMetricData"}, Resources: []string{"*"}},
		}},
		{Name: "DRTrafficAndFence", Statements: []Statement{
			{Sid: "FailoverRecords", Actions: []string{"route53:ListResourceRecordSets", "route53:GetHostedZone"}, Resources: []string{r.zone}},
			{Sid: "HealthChecks", Actions: []string{"route53:GetHealthCheck", "route53:GetHealthCheckStatus"}, Resources: r.checks},
			// GetFunction returns the state and reserved concurrency
			// (capacity); GetFunctionConcurrency reads the fence.
			{Sid: "PaymentFunctions", Actions: []string{"lambda:GetFunction", "lambda:GetFunctionConcurrency"}, Resources: r.functions},
			// An unplanned failover fences the old Region's payment
			// service (reserved concurrency 0); a move into the Region or
			// drctl rejoin lifts it.
			{Sid: "FenceOldPrimary", Actions: []string{"lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"}, Resources: r.functions},
			// An unplanned failover replays the payment journal through
			// the new writer's payment function ({"replayJournal": ...}).
			{Sid: "ReplayJournal", Actions: []string{"lambda:InvokeFunction"}, Resources: r.functions},
		}},
		{Name: "DRStateAndChecks", Statements: []Statement{
			{Sid: "DRParameters", Actions: []string{"ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter"}, Resources: r.params},
			{Sid: "SessionTable", Actions: []string{"dynamodb:DescribeTable"}, Resources: r.tables},
			// The optional DynamoDB copy of a run's journal is one item
			// (sessionId "drctl-run#<run-id>") in the same global table, so
			// it survives the loss of either Region.
			{Sid: "RunJournal", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resources: r.tables},
			// A move names the new writer in the payment journal (one
			// item, pk "writer"): read, then a conditional put.
			{Sid: "JournalWriterRecord", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resources: r.journals},
			{Sid: "RecoveryPoints", Actions: []string{"backup:ListRecoveryPointsByBackupVault", "backup:DescribeBackupVault"}, Resources: r.vaults},
			{Sid: "SimulateOwnPolicy", Actions: []string{"iam:SimulatePrincipalPolicy"}, Resources: []string{r.role}},
			// The drill's canaries write with the payment API key.
			{Sid: "CanaryAPIKey", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: r.apiKeys},
			// The primary Region's secrets are encrypted with its customer
			// key, whose id the global stack (deployed first) cannot know:
			// any key there, but only through Secrets Manager, and
			// GetSecretValue above limits which secret. Replicas use the
			// AWS-managed key, which needs no grant.
			{Sid: "CanaryAPIKeyDecrypt", Actions: []string{"kms:Decrypt"}, Resources: []string{naming.KeysARNPattern(cfg.PrimaryRegion, cfg.Account)},
				Conditions: []Condition{{Operator: "StringEquals", Key: "kms:ViaService", Values: []string{naming.ViaService("secretsmanager", cfg.PrimaryRegion)}}}},
		}},
		{Name: "DRLostWrites", Statements: []Statement{
			// An unplanned failover keeps the old primary's snapshot (the
			// lost writes) as a manual copy that does not expire.
			{Sid: "KeepLostWrites", Actions: []string{"rds:DescribeDBClusterSnapshots", "rds:CopyDBClusterSnapshot"}, Resources: append(append([]string{}, r.clusters...), r.snapshots...)},
			// The old primary's snapshots are encrypted with its Region's
			// customer key: copying one (KeepLostWrites) and restoring it
			// (ReconcileRestore) make RDS create grants on that key for
			// the caller. Only through RDS in that Region, and the key's
			// id is created after the global stack, hence key/* per Region.
			snapshotKeys("KeptSnapshotKeysPrimary", cfg.PrimaryRegion, cfg.Account),
			snapshotKeys("KeptSnapshotKeysSecondary", cfg.SecondaryRegion, cfg.Account),
		}},
		{Name: "DRReconcile", Statements: []Statement{
			// drctl reconcile restores the kept copy into a temporary
			// cluster (deleted afterwards), waits for it and its instance,
			// reads it and writes the writer through the Data API with the
			// database secret. The Service Authorization Reference (Amazon
			// RDS) authorizes RestoreDBClusterFromSnapshot on the new
			// cluster, its cluster parameter group, option group and subnet
			// group (all required) and the snapshot; the restore names the
			// stack's cluster parameter group and takes the engine's default
			// option group.
			{Sid: "ReconcileRestore", Actions: []string{"rds:RestoreDBClusterFromSnapshot"}, Resources: r.restoreInputs},
			// CreateDBInstance: the instance (required), its cluster, and the
			// parameter, option and subnet groups it gets: the engine's
			// defaults and the cluster's subnet group (Service Authorization
			// Reference; the RDS User Guide's example policy for it grants
			// pg:default* and og:default*, here the exact defaults).
			{Sid: "ReconcileInstance", Actions: []string{"rds:CreateDBInstance"}, Resources: r.instanceInputs},
			// Tags on create are authorized as AddTagsToResource (RDS User
			// Guide, "Grant permission to tag Amazon RDS resources during
			// creation"); EnableHttpEndpoint and DeleteDBCluster are
			// authorized on the cluster, DeleteDBInstance on the db
			// (Service Authorization Reference). No final snapshot is kept.
			{Sid: "ReconcileCluster", Actions: []string{"rds:AddTagsToResource", "rds:EnableHttpEndpoint", "rds:DeleteDBCluster", "rds:DeleteDBInstance"}, Resources: r.restore},
			// The Service Authorization Reference lists DescribeDBClusters
			// on the cluster resource and DescribeDBInstances on db: the
			// temporary cluster and instance are watched by name.
			{Sid: "ReconcileWatch", Actions: []string{"rds:DescribeDBClusters", "rds:DescribeDBInstances"}, Resources: r.restore},
			{Sid: "ReconcileData", Actions: []string{"rds-data:ExecuteStatement", "rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"},
				Resources: append(append([]string{}, r.clusters...), r.restore...)},
			{Sid: "ReconcileSecret", Actions: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, Resources: r.dbSecrets},
		}},
		{Name: RegionSwitchPolicy, Statements: []Statement{
			PlanExecutionRead(cfg),
			// The operator starts, follows and cancels the plan's
			// executions through drctl. The Service Authorization
			// Reference (Amazon ARC Region switch) authorizes
			// StartPlanExecution, ListPlanExecutions and
			// CancelPlanExecution on the plan resource (plan*), whose ARN
			// ends in the suffix ARC chooses (naming.RegionSwitchPlanARNPattern).
			// Approving a step (ApprovePlanExecutionStep) is the approval
			// role's alone, never the DR role's.
			{Sid: "PlanExecutions", Actions: []string{"arc-region-switch:StartPlanExecution", "arc-region-switch:ListPlanExecutions", "arc-region-switch:CancelPlanExecution"},
				Resources: []string{r.plan}},
			// drctl finds the plan's ARN (and its suffix) in the Region it
			// asks. The Service Authorization Reference lists no resource
			// type for ListPlansInRegion: it is authorized on "*" only,
			// and returns the account's plans, never changes one.
			{Sid: "PlansInRegion", Actions: []string{"arc-region-switch:ListPlansInRegion"}, Resources: []string{"*"}},
		}},
	}
}

// RegionSwitchPolicy is the DR role's policy for the ARC Region switch
// plan's executions.
const RegionSwitchPolicy = "DRRegionSwitch"

// PlanExecutionRead lets the caller read the plan's executions: drctl
// follows one, and the drctl-action function reads the execution that
// invoked it (its mode and its steps). The Service Authorization
// Reference (Amazon ARC Region switch) authorizes GetPlanExecution on the
// plan resource (plan*, arn:aws:arc-region-switch::ACCOUNT:plan/ID).
func PlanExecutionRead(cfg config.Config) Statement {
	n := naming.New(cfg.Environment, cfg.DomainName)
	return Statement{Sid: "PlanExecutionRead", Actions: []string{"arc-region-switch:GetPlanExecution"},
		Resources: []string{n.RegionSwitchPlanARNPattern(cfg.Account)}}
}

// ActionPolicies are the drctl-action function's permissions: the DR
// role's, since it runs drctl's step code with the same AWS calls, except
// that of the plan's executions it may only read (PlanExecutionRead): ARC
// invokes it, it neither starts, lists nor cancels an execution.
func ActionPolicies(cfg config.Config, ids ...IDs) []Policy {
	var out []Policy
	for _, p := range Policies(cfg, ids...) {
		if p.Name == RegionSwitchPolicy {
			p = Policy{Name: "ActionRegionSwitch", Statements: []Statement{PlanExecutionRead(cfg)}}
		}
		out = append(out, p)
	}
	return out
}

// resources are the ARNs the DR statements name, in both Regions.
type resources struct {
	global, zone, role, plan                                                           string
	clusters, params, tables, journals, vaults, functions, apiKeys, snapshots, restore []string
	restoreInputs, instanceInputs, dbSecrets, checks                                   []string
}

func newResources(cfg config.Config, id IDs) resources {
	n := naming.New(cfg.Environment, cfg.DomainName)
	acct := cfg.Account
	r := resources{global: n.GlobalClusterARN(acct), zone: naming.HostedZoneARN(id.ZoneID), role: naming.RoleARN(acct, n.DRRole()),
		plan: n.RegionSwitchPlanARNPattern(acct)}
	for _, reg := range cfg.Regions() {
		r.clusters = append(r.clusters, n.ClusterARN(reg, acct))
		for _, p := range []string{n.ActiveRegionParam(), n.WriterEndpointParam(), n.ZoneIDParam(), n.HealthCheckParam(cfg.PrimaryRegion), n.HealthCheckParam(cfg.SecondaryRegion)} {
			r.params = append(r.params, naming.ParameterARN(reg, acct, p))
		}
		r.tables = append(r.tables, n.TableARN(reg, acct))
		r.journals = append(r.journals, n.JournalTableARN(reg, acct))
		r.vaults = append(r.vaults, n.BackupVaultARN(reg, acct))
		r.functions = append(r.functions, naming.FunctionARN(reg, acct, n.PaymentFunction(reg)))
		r.apiKeys = append(r.apiKeys, naming.SecretARNPattern(reg, acct, n.APIKeySecretName()))
		r.snapshots = append(r.snapshots, n.LostWritesSnapshotARNs(reg, acct)...)
		temp := n.ReconcileARNs(reg, acct) // cluster, instance
		r.restore = append(r.restore, temp...)
		subnets, og := n.DBSubnetGroupARN(reg, acct), naming.DefaultOptionGroupARN(reg, acct)
		r.restoreInputs = append(r.restoreInputs, temp[0], n.KeptSnapshotARNPattern(reg, acct), n.ClusterParameterGroupARN(reg, acct), og, subnets)
		r.instanceInputs = append(r.instanceInputs, temp[1], temp[0], naming.DefaultDBParameterGroupARN(reg, acct), og, subnets)
		r.dbSecrets = append(r.dbSecrets, naming.SecretARNPattern(reg, acct, n.DBSecretName()))
		if hc := id.HealthChecks[reg]; hc != "" {
			r.checks = append(r.checks, naming.HealthCheckARN(hc))
		}
	}
	if len(r.checks) != len(cfg.Regions()) {
		r.checks = []string{naming.HealthCheckARN("")}
	}
	return r
}

func (r resources) globalAndClusters() []string { return append([]string{r.global}, r.clusters...) }

// snapshotKeys lets RDS in region use that Region's keys on the caller's
// behalf (grants for snapshot copies and restores), and nothing else.
func snapshotKeys(sid, region, acct string) Statement {
	return Statement{Sid: sid, Actions: []string{"kms:CreateGrant", "kms:DescribeKey"}, Resources: []string{naming.KeysARNPattern(region, acct)},
		Conditions: []Condition{{Operator: "StringEquals", Key: "kms:ViaService", Values: []string{naming.ViaService("rds", region)}}}}
}

// ReadOnly keeps the actions that observe and drops those that change
// anything or read a secret: the scheduled evaluator runs without MFA
// and needs neither. Secrets Manager's GetSecretValue and KMS's Decrypt
// return secret material although their verbs only read.
func ReadOnly(statements []Statement) []Statement {
	var out []Statement
	for _, s := range statements {
		var actions []string
		for _, a := range s.Actions {
			verb := a[strings.Index(a, ":")+1:]
			if readsSecret(a) {
				continue
			}
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

func readsSecret(action string) bool {
	switch strings.ToLower(action) {
	case "secretsmanager:getsecretvalue", "kms:decrypt":
		return true
	}
	return false
}
