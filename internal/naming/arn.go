package naming

// ARNs of the environment's resources, built from the names above. Every
// package that needs one (the stack, the DR policy, drctl) builds it here.
// The partition is aws: the configuration accepts commercial Regions.

// ARN is an ARN in account; region is "" for global services (IAM, Route 53).
func ARN(service, region, account, resource string) string {
	return "arn:aws:" + service + ":" + region + ":" + account + ":" + resource
}

// SecretARNPattern matches the named secret in region whatever the six
// random characters Secrets Manager appends to its ARN.
func SecretARNPattern(region, account, name string) string {
	return ARN("secretsmanager", region, account, "secret:"+name+"-??????")
}

// ClusterARN is the Aurora cluster of region.
func (n Names) ClusterARN(region, account string) string {
	return ARN("rds", region, account, "cluster:"+n.ClusterID(region))
}

// GlobalClusterARN is the Aurora global database (a global resource).
func (n Names) GlobalClusterARN(account string) string {
	return ARN("rds", "", account, "global-cluster:"+n.GlobalClusterID())
}

// TableARN is the session table's replica in region.
func (n Names) TableARN(region, account string) string {
	return ARN("dynamodb", region, account, "table/"+n.SessionTable())
}

// JournalTableARN is the payment journal's replica in region.
func (n Names) JournalTableARN(region, account string) string {
	return ARN("dynamodb", region, account, "table/"+n.JournalTable())
}

// ParameterARN is the SSM parameter name (which starts with "/") in region.
func ParameterARN(region, account, name string) string {
	return ARN("ssm", region, account, "parameter"+name)
}

// BackupVaultARN is the Region's backup vault.
func (n Names) BackupVaultARN(region, account string) string {
	return ARN("backup", region, account, "backup-vault:"+n.BackupVault(region))
}

// FunctionARN is a Lambda function in region.
func FunctionARN(region, account, function string) string {
	return ARN("lambda", region, account, "function:"+function)
}

// EventBusARN is the Region's payment event bus.
func (n Names) EventBusARN(region, account string) string {
	return ARN("events", region, account, "event-bus/"+n.EventBus(region))
}

// ForwardRuleARN is the forwarding rule on the Region's custom bus.
func (n Names) ForwardRuleARN(region, account string) string {
	return ARN("events", region, account, "rule/"+n.EventBus(region)+"/"+n.ForwardRule(region))
}

// RoleARN is an IAM role of account.
func RoleARN(account, role string) string { return ARN("iam", "", account, "role/"+role) }

// KeysARNPattern matches every KMS key of account in region; statements
// using it are narrowed by conditions (kms:ViaService).
func KeysARNPattern(region, account string) string { return ARN("kms", region, account, "key/*") }

// ViaService is the kms:ViaService value of a service calling KMS on a
// caller's behalf in region, e.g. secretsmanager.us-east-1.amazonaws.com.
func ViaService(service, region string) string { return service + "." + region + ".amazonaws.com" }

// HostedZoneARN and HealthCheckARN are Route 53 resources; an empty id
// gives the type's wildcard.
func HostedZoneARN(id string) string { return "arn:aws:route53:::hostedzone/" + orWildcard(id) }

// HealthCheckARN is a Route 53 health check.
func HealthCheckARN(id string) string { return "arn:aws:route53:::healthcheck/" + orWildcard(id) }

func orWildcard(id string) string {
	if id == "" {
		return "*"
	}
	return id
}

// LostWritesSnapshotARNs match the snapshots drctl reads and writes to
// keep an old primary's lost writes: Aurora's unplanned-failover snapshot
// of region's cluster and drctl's manual copies of it.
func (n Names) LostWritesSnapshotARNs(region, account string) []string {
	return []string{
		ARN("rds", region, account, "cluster-snapshot:"+n.UnplannedFailoverSnapshotPrefix(region)+"-*"),
		n.KeptSnapshotARNPattern(region, account),
	}
}

// KeptSnapshotARNPattern matches drctl's manual copies (KeptSnapshotID),
// the only snapshots drctl reconcile restores.
func (n Names) KeptSnapshotARNPattern(region, account string) string {
	return ARN("rds", region, account, "cluster-snapshot:"+n.KeptSnapshotID(region, "*"))
}

// ReconcileARNs are the temporary cluster drctl reconcile restores in
// region and its one instance.
func (n Names) ReconcileARNs(region, account string) []string {
	id := n.ReconcileClusterID(region)
	return []string{ARN("rds", region, account, "cluster:"+id), ARN("rds", region, account, "db:"+id+"-1")}
}

// DBSubnetGroupARN is the Region's Aurora subnet group.
func (n Names) DBSubnetGroupARN(region, account string) string {
	return ARN("rds", region, account, "subgrp:"+n.DBSubnetGroup(region))
}

// ClusterParameterGroupARN is the Region's Aurora cluster parameter group.
func (n Names) ClusterParameterGroupARN(region, account string) string {
	return ARN("rds", region, account, "cluster-pg:"+n.ClusterParameterGroup(region))
}

// DefaultDBParameterGroupARN is the engine's default DB parameter group in region.
func DefaultDBParameterGroupARN(region, account string) string {
	return ARN("rds", region, account, "pg:"+DefaultDBParameterGroup)
}

// DefaultOptionGroupARN is the engine's default option group in region.
func DefaultOptionGroupARN(region, account string) string {
	return ARN("rds", region, account, "og:"+DefaultOptionGroup)
}

// RegionSwitchReportObjectsARN matches the plan's reports: the objects
// under the report prefix of the report bucket.
func (n Names) RegionSwitchReportObjectsARN(account string) string {
	return "arn:aws:s3:::" + n.RegionSwitchReportBucket(account) + "/" + RegionSwitchReportPrefix + "/*"
}
