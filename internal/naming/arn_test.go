package naming

import "testing"

func TestARNs(t *testing.T) {
	n := New("prod", "example.com")
	for got, want := range map[string]string{
		n.ClusterARN("us-west-2", "123456789012"):                          "arn:aws:rds:us-west-2:123456789012:cluster:payments-us-west-2-prod",
		n.GlobalClusterARN("123456789012"):                                 "arn:aws:rds::123456789012:global-cluster:payments-global-prod",
		SecretARNPattern("us-east-1", "123456789012", n.AppDBSecretName()): "arn:aws:secretsmanager:us-east-1:123456789012:secret:payment-dr/prod/db-app-??????",
		n.ForwardRuleARN("us-east-1", "123456789012"):                      "arn:aws:events:us-east-1:123456789012:rule/payment-events-us-east-1-prod/payment-forward-us-east-1-prod",
		ParameterARN("us-east-1", "123456789012", n.ActiveRegionParam()):   "arn:aws:ssm:us-east-1:123456789012:parameter/payment/prod/dr/active-region",
		RoleARN("123456789012", n.DRRole()):                                "arn:aws:iam::123456789012:role/payment-dr-automation-prod",
		HostedZoneARN(""):                                                  "arn:aws:route53:::hostedzone/*",
		HealthCheckARN("abc"):                                              "arn:aws:route53:::healthcheck/abc",
		n.ClusterParameterGroupARN("us-east-1", "123456789012"):            "arn:aws:rds:us-east-1:123456789012:cluster-pg:payments-us-east-1-prod",
		DefaultDBParameterGroupARN("us-east-1", "123456789012"):            "arn:aws:rds:us-east-1:123456789012:pg:default.aurora-mysql8.0",
		DefaultOptionGroupARN("us-east-1", "123456789012"):                 "arn:aws:rds:us-east-1:123456789012:og:default:aurora-mysql-8-0",
		ViaService("secretsmanager", "us-east-1"):                          "secretsmanager.us-east-1.amazonaws.com",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// Names that must differ per Region do.
func TestRegionalNamesDiffer(t *testing.T) {
	n := New("prod", "example.com")
	for _, f := range []func(string) string{n.ClusterID, n.PaymentFunction, n.MigrateFunction, n.EventBus, n.BackupVault, n.RegionalStack, n.VPC, n.HTTPAPI, n.Dashboard, n.OutboxSweepRule, n.ForwardRule} {
		if f("us-east-1") == f("us-west-2") {
			t.Errorf("%s is the same in both Regions", f("us-east-1"))
		}
	}
}
