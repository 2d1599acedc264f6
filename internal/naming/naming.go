// Package naming derives every physical resource name from the environment
// name and Region. The infrastructure, the payment service and drctl all use
// it, so a name is defined once and the DR controller can find a resource
// without reading CloudFormation outputs.
package naming

import "fmt"

// Names holds the environment-wide names (one per deployment, not per Region).
type Names struct {
	Env    string // environment name, e.g. "dev"
	Domain string // parent domain, e.g. "example.com"
}

// New returns the names of environment env under the parent domain.
func New(env, domain string) Names { return Names{Env: env, Domain: domain} }

// GlobalClusterID is the Aurora global database identifier.
func (n Names) GlobalClusterID() string { return "payments-global-" + n.Env }

// ClusterID is the Aurora cluster identifier of the given Region's member.
func (n Names) ClusterID(region string) string {
	return fmt.Sprintf("payments-%s-%s", region, n.Env)
}

// InstanceID is the identifier of the cluster's first DB instance.
func (n Names) InstanceID(region string) string { return n.ClusterID(region) + "-1" }

// DatabaseName is the schema inside the cluster.
func (n Names) DatabaseName() string { return "payments" }

// DBSecretName is the Secrets Manager secret holding the database master
// credentials; it is replicated to the secondary Region under the same name.
func (n Names) DBSecretName() string { return fmt.Sprintf("payment-dr/%s/db-master", n.Env) }

// APIKeySecretName is the generated API key, replicated like the DB secret.
func (n Names) APIKeySecretName() string { return fmt.Sprintf("payment-dr/%s/api-key", n.Env) }

// SessionTable is the DynamoDB global table of payment sessions.
func (n Names) SessionTable() string { return "payment-sessions-" + n.Env }

// PaymentFunction is the payment Lambda in the given Region.
func (n Names) PaymentFunction(region string) string {
	return fmt.Sprintf("payment-processor-%s-%s", region, n.Env)
}

// EventBus is the Region's custom EventBridge bus.
func (n Names) EventBus(region string) string {
	return fmt.Sprintf("payment-events-%s-%s", region, n.Env)
}

// BackupVault is the Region's AWS Backup vault.
func (n Names) BackupVault(region string) string {
	return fmt.Sprintf("payment-vault-%s-%s", region, n.Env)
}

// ZoneName is the Route 53 hosted zone, e.g. payment-dev.example.com.
func (n Names) ZoneName() string { return fmt.Sprintf("payment-%s.%s", n.Env, n.Domain) }

// APIHost is the failover name clients call.
func (n Names) APIHost() string { return "api." + n.ZoneName() }

// RegionalAPIHost is the name that always reaches one Region's API; the
// health checks and drctl probe it.
func (n Names) RegionalAPIHost(region string) string {
	return fmt.Sprintf("api-%s.%s", region, n.ZoneName())
}

// AlarmTopic is the Region's SNS topic for DR alarms.
func (n Names) AlarmTopic(region string) string {
	return fmt.Sprintf("payment-dr-alarms-%s-%s", region, n.Env)
}

// DRRole is the IAM role drctl assumes.
func (n Names) DRRole() string { return "payment-dr-automation-" + n.Env }

// ParamPrefix is the SSM prefix for this environment.
func (n Names) ParamPrefix() string { return "/payment/" + n.Env }

// DBEndpointParam names the SSM parameter holding a Region's cluster
// endpoint; role is "primary" or "secondary" as in the reference.
func (n Names) DBEndpointParam(role string) string {
	return fmt.Sprintf("%s/db/%s/endpoint", n.ParamPrefix(), role)
}

// DBReaderEndpointParam names the SSM parameter holding a Region's reader endpoint.
func (n Names) DBReaderEndpointParam(role string) string {
	return fmt.Sprintf("%s/db/%s/reader-endpoint", n.ParamPrefix(), role)
}

// APIKeySecretParam names the SSM parameter that points to the API key's
// secret (the reference kept the key itself in a SecureString, which
// CloudFormation cannot create; the value is only the secret's name).
func (n Names) APIKeySecretParam() string { return n.ParamPrefix() + "/api/key-secret-id" }

// ActiveRegionParam names the SSM parameter (kept in both Regions) that
// says which Region currently holds the writer. drctl updates it.
func (n Names) ActiveRegionParam() string { return n.ParamPrefix() + "/dr/active-region" }

// WriterEndpointParam names the SSM parameter holding the current writer endpoint.
func (n Names) WriterEndpointParam() string { return n.ParamPrefix() + "/dr/writer-endpoint" }

// HealthCheckParam names the SSM parameter holding a Region's Route 53
// health-check id, so drctl can find it.
func (n Names) HealthCheckParam(region string) string {
	return fmt.Sprintf("%s/dr/health-check/%s", n.ParamPrefix(), region)
}

// ZoneIDParam names the SSM parameter holding the hosted zone id.
func (n Names) ZoneIDParam() string { return n.ParamPrefix() + "/dr/zone-id" }
