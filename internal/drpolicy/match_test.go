package drpolicy

import "testing"

func TestAllowsUsesIAMWildcardMatching(t *testing.T) {
	st := []Statement{
		{Actions: []string{"rds:DescribeDBClusters"}, Resources: []string{"arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-prod"}},
		{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{"arn:aws:secretsmanager:us-east-1:111111111111:secret:payment-dr/prod/api-key-??????"}},
		{Actions: []string{"rds:CopyDBClusterSnapshot"}, Resources: []string{"arn:aws:rds:us-east-1:111111111111:cluster-snapshot:rds:unplanned-global-failover-payments-us-east-1-prod-*"}},
		{Actions: []string{"kms:Decrypt"}, Resources: []string{"arn:aws:kms:us-east-1:111111111111:key/*"},
			Conditions: []Condition{{Operator: "StringEquals", Key: "kms:ViaService", Values: []string{"secretsmanager.us-east-1.amazonaws.com"}}}},
	}
	via := map[string][]string{"kms:ViaService": {"secretsmanager.us-east-1.amazonaws.com"}}
	for _, c := range []struct {
		action, resource string
		ctx              map[string][]string
		want             bool
	}{
		{"RDS:describedbclusters", "arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-prod", nil, true},
		{"rds:DescribeDBClusters", "arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-prod-reconcile", nil, false},
		{"rds:DescribeDBClusters", "arn:aws:rds:us-east-1:111111111111:cluster:Payments-us-east-1-prod", nil, false},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111111111111:secret:payment-dr/prod/api-key-AbCdEf", nil, true},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111111111111:secret:payment-dr/prod/api-key-AbCdE", nil, false},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111111111111:secret:payment-dr/prod/api-key-extra-AbCdEf", nil, false},
		{"rds:CopyDBClusterSnapshot", "arn:aws:rds:us-east-1:111111111111:cluster-snapshot:rds:unplanned-global-failover-payments-us-east-1-prod-2026-11-25-04-10", nil, true},
		{"rds:CopyDBClusterSnapshot", "arn:aws:rds:us-west-2:111111111111:cluster-snapshot:rds:unplanned-global-failover-payments-us-east-1-prod-2026", nil, false},
		{"kms:Decrypt", "arn:aws:kms:us-east-1:111111111111:key/1234", via, true},
		{"kms:Decrypt", "arn:aws:kms:us-east-1:111111111111:key/1234", nil, false},
		{"rds:DeleteDBCluster", "arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-prod", nil, false},
	} {
		if got := Allows(st, c.action, c.resource, c.ctx); got != c.want {
			t.Errorf("%s on %s (%v): %v, want %v", c.action, c.resource, c.ctx, got, c.want)
		}
	}
}
