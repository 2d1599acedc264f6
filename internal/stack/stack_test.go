package stack

import (
	"fmt"
	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
	"github.com/payment-dr/payment-dr/internal/naming"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEveryRegionHasTheReferenceNetwork(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		want := map[string]int{
			"AWS::EC2::VPC": 1, "AWS::EC2::InternetGateway": 1, "AWS::EC2::NatGateway": 1, "AWS::EC2::EIP": 1,
			"AWS::EC2::Subnet": 6, "AWS::EC2::RouteTable": 6, "AWS::EC2::FlowLog": 1,
		}
		for typ, n := range want {
			if got := tpl.count(typ); got != n {
				t.Errorf("%s: %d %s, want %d", region, got, typ, n)
			}
		}
		vpc := tpl.ofType("AWS::EC2::VPC")[0]
		if prop(vpc, "CidrBlock") != s.cfg.CIDR(region) || prop(vpc, "EnableDnsHostnames") != true || prop(vpc, "EnableDnsSupport") != true {
			t.Errorf("%s: VPC %v", region, vpc.Properties)
		}
		azs := map[string]bool{}
		private := 0
		for _, sn := range tpl.ofType("AWS::EC2::Subnet") {
			if prop(sn, "MapPublicIpOnLaunch") != false {
				t.Errorf("%s: subnet assigns public IPs: %v", region, sn.Properties)
			}
			if contains(sn.Properties["Tags"], `"Private"`) {
				private++
				azs[fmt.Sprint(prop(sn, "AvailabilityZoneId"))] = true
			}
		}
		if private != 3 || len(azs) != 3 {
			t.Errorf("%s: %d private subnets in %d AZs, want 3 in 3", region, private, len(azs))
		}
		// Gateway endpoints for DynamoDB and S3, interface endpoints for
		// Secrets Manager and EventBridge: no NAT on the payment path.
		var services []string
		for _, ep := range tpl.ofType("AWS::EC2::VPCEndpoint") {
			services = append(services, jsonOf(prop(ep, "ServiceName"))+" "+fmt.Sprint(prop(ep, "VpcEndpointType")))
		}
		for _, want := range []string{"dynamodb", "s3", "secretsmanager", "events"} {
			if !strings.Contains(strings.Join(services, ","), want) {
				t.Errorf("%s: no %s endpoint in %v", region, want, services)
			}
		}
	}
}

func TestDatabaseSecurityGroupAdmitsOnlyTheLambda(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		ingress := tpl.ofType("AWS::EC2::SecurityGroupIngress")
		mysql := 0
		for _, in := range ingress {
			if prop(in, "FromPort") == 3306.0 {
				mysql++
				if prop(in, "SourceSecurityGroupId") == nil || prop(in, "CidrIp") != nil {
					t.Errorf("%s: MySQL ingress not limited to a security group: %v", region, in.Properties)
				}
			}
		}
		if mysql != 1 {
			t.Errorf("%s: %d MySQL ingress rules, want 1", region, mysql)
		}
		for _, sg := range tpl.ofType("AWS::EC2::SecurityGroup") {
			if contains(sg.Properties["SecurityGroupIngress"], "0.0.0.0/0") {
				t.Errorf("%s: security group open to the internet: %v", region, sg.Properties)
			}
		}
	}
}

func TestGlobalDatabaseWithoutBacktrackOrLiteralPassword(t *testing.T) {
	s := synthesize(t)
	primary, secondary := s.templates[s.cfg.PrimaryRegion], s.templates[s.cfg.SecondaryRegion]
	if primary.count("AWS::RDS::GlobalCluster") != 1 || secondary.count("AWS::RDS::GlobalCluster") != 0 {
		t.Fatal("the global cluster must be created once, by the primary stack")
	}
	g := primary.ofType("AWS::RDS::GlobalCluster")[0]
	if prop(g, "GlobalClusterIdentifier") != "payments-global-prod" || prop(g, "StorageEncrypted") != true || prop(g, "DeletionProtection") != true {
		t.Errorf("global cluster: %v", g.Properties)
	}
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		c := tpl.one(t, "AWS::RDS::DBCluster", map[string]any{"DBClusterIdentifier": "payments-" + region + "-prod"})
		checks := map[string]any{
			"GlobalClusterIdentifier": "payments-global-prod", "Engine": "aurora-mysql", "EngineVersion": s.cfg.DBEngineVersion,
			"StorageEncrypted": true, "BackupRetentionPeriod": 7.0, "DeletionProtection": true, "EnableIAMDatabaseAuthentication": true,
			// drctl reconcile writes re-applied payments through the Data API
			"EnableHttpEndpoint": true,
		}
		for k, v := range checks {
			if jsonOf(c.Properties[k]) != jsonOf(v) {
				t.Errorf("%s: cluster %s = %v, want %v", region, k, c.Properties[k], v)
			}
		}
		if _, ok := c.Properties["BacktrackWindow"]; ok {
			t.Errorf("%s: backtrack is not supported on global databases", region)
		}
		if c.Properties["KmsKeyId"] == nil {
			t.Errorf("%s: cluster not encrypted with the Region's key", region)
		}
		if c.DeletionPolicy != "Snapshot" {
			t.Errorf("%s: cluster deletion policy %q, want Snapshot", region, c.DeletionPolicy)
		}
		if !contains(c.Properties["EnableCloudwatchLogsExports"], "audit") || !contains(c.Properties["EnableCloudwatchLogsExports"], "slowquery") {
			t.Errorf("%s: log exports %v", region, c.Properties["EnableCloudwatchLogsExports"])
		}
		pg := tpl.ofType("AWS::RDS::DBClusterParameterGroup")[0]
		if prop(pg, "Parameters", "require_secure_transport") != "ON" {
			t.Errorf("%s: TLS not required: %v", region, pg.Properties)
		}
		// drctl reconcile restores into this group by name, and the DR
		// role is granted it by name (naming.ClusterParameterGroupARN).
		if name := "payments-" + region + "-prod"; prop(pg, "DBClusterParameterGroupName") != name || prop(pg, "Family") != naming.AuroraMySQLFamily {
			t.Errorf("%s: cluster parameter group %v, want named %s", region, pg.Properties, name)
		}
		inst := tpl.one(t, "AWS::RDS::DBInstance", map[string]any{"DBInstanceClass": s.cfg.DBInstanceClass})
		if prop(inst, "PubliclyAccessible") != false {
			t.Errorf("%s: instance publicly accessible", region)
		}
		if region == s.cfg.PrimaryRegion {
			// The password is a deploy-time reference to the generated secret.
			if !regexp.MustCompile(`\{\{resolve:secretsmanager:`).MatchString(jsonOf(c.Properties["MasterUserPassword"])) {
				t.Errorf("primary password is not a Secrets Manager reference: %v", c.Properties["MasterUserPassword"])
			}
		} else if c.Properties["MasterUsername"] != nil || c.Properties["MasterUserPassword"] != nil {
			t.Errorf("secondary must not set master credentials")
		}
	}
}

func TestNoTemplateContainsASecret(t *testing.T) {
	s := synthesize(t)
	literal := regexp.MustCompile(`(?i)"(MasterUserPassword|Password|SecretString|ApiKey)"\s*:\s*"[^"{]`)
	for name, tpl := range s.templates {
		if strings.Contains(tpl.raw, "ChangeMe") || strings.Contains(tpl.raw, "placeholder") {
			t.Errorf("%s: contains the reference's placeholder secrets", name)
		}
		if m := literal.FindString(tpl.raw); m != "" {
			t.Errorf("%s: literal secret value: %s", name, m)
		}
	}
	primary := s.templates[s.cfg.PrimaryRegion]
	for _, name := range []string{"payment-dr/prod/db-master", "payment-dr/prod/db-app", "payment-dr/prod/api-key"} {
		sec := primary.one(t, "AWS::SecretsManager::Secret", map[string]any{"Name": name})
		if sec.Properties["GenerateSecretString"] == nil || sec.Properties["SecretString"] != nil {
			t.Errorf("%s is not generated at deploy time: %v", name, sec.Properties)
		}
		if !contains(sec.Properties["ReplicaRegions"], s.cfg.SecondaryRegion) || sec.Properties["KmsKeyId"] == nil {
			t.Errorf("%s: not replicated to %s or not KMS-encrypted: %v", name, s.cfg.SecondaryRegion, sec.Properties)
		}
	}
}

func TestSessionGlobalTable(t *testing.T) {
	s := synthesize(t)
	primary := s.templates[s.cfg.PrimaryRegion]
	if n := s.templates[s.cfg.SecondaryRegion].count("AWS::DynamoDB::GlobalTable"); n != 0 {
		t.Fatalf("secondary declares %d global tables; the replica belongs to the primary's", n)
	}
	tbl := primary.one(t, "AWS::DynamoDB::GlobalTable", map[string]any{"TableName": "payment-sessions-prod"})
	if prop(tbl, "BillingMode") != "PAY_PER_REQUEST" || prop(tbl, "StreamSpecification", "StreamViewType") != "NEW_AND_OLD_IMAGES" {
		t.Errorf("table: %v", tbl.Properties)
	}
	if !contains(tbl.Properties["KeySchema"], `"AttributeName":"sessionId"`) {
		t.Errorf("key schema %v", tbl.Properties["KeySchema"])
	}
	replicas, _ := tbl.Properties["Replicas"].([]any)
	regions := map[string]bool{}
	for _, r := range replicas {
		m := r.(map[string]any)
		regions[fmt.Sprint(m["Region"])] = true
		if !contains(m["PointInTimeRecoverySpecification"], `"PointInTimeRecoveryEnabled":true`) || m["DeletionProtectionEnabled"] != true {
			t.Errorf("replica %v lacks PITR or deletion protection", m)
		}
	}
	if len(regions) != 2 || !regions[s.cfg.SecondaryRegion] {
		t.Errorf("replicas in %v, want both Regions", regions)
	}
}

func TestPaymentLambdaIsTheRealGoBinary(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		fn := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": "payment-processor-" + region + "-prod"})
		for k, v := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "MemorySize": 1024.0, "Timeout": 60.0, "Architectures": []string{"arm64"}} {
			if jsonOf(fn.Properties[k]) != jsonOf(v) {
				t.Errorf("%s: %s = %v, want %v", region, k, fn.Properties[k], v)
			}
		}
		if len(prop(fn, "VpcConfig", "SubnetIds").([]any)) != 3 {
			t.Errorf("%s: Lambda not in the three private subnets", region)
		}
		env := prop(fn, "Environment", "Variables").(map[string]any)
		for _, k := range []string{"SESSION_TABLE", "EVENT_BUS_NAME", "DB_HOST", "DB_SECRET_ID", "API_KEY_SECRET_ID", "DB_NAME", "DB_TLS_CA_FILE"} {
			if env[k] == nil {
				t.Errorf("%s: env %s missing", region, k)
			}
		}
		// DB_HOST: TestNoClusterEndpointAddressIsRead.
		for k, v := range env {
			if strings.Contains(strings.ToLower(k), "password") || contains(v, "resolve:secretsmanager") {
				t.Errorf("%s: secret material in the Lambda environment: %s", region, k)
			}
		}
		// The asset is the built binary, content-hashed.
		key := fmt.Sprint(prop(fn, "Code", "S3Key"))
		hash := strings.TrimSuffix(key, ".zip")
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
			t.Fatalf("%s: asset key %q is not a content hash", region, key)
		}
		isELFArm64(t, filepath.Join(s.dir, "asset."+hash, "bootstrap"))
		// The CA bundle the service verifies Aurora against is in the package.
		if env["DB_TLS_CA_FILE"] != "/var/task/"+RDSCABundle {
			t.Errorf("%s: DB_TLS_CA_FILE %v", region, env["DB_TLS_CA_FILE"])
		}
		if data, err := os.ReadFile(filepath.Join(s.dir, "asset."+hash, RDSCABundle)); err != nil || countCertificates(data) < 10 {
			t.Errorf("%s: the asset lacks the RDS CA bundle (%v, %d certificates)", region, err, countCertificates(data))
		}
	}
}

func TestLambdaPermissionsAreScopedToNamedResources(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		doc := lambdaPolicy(t, tpl, "PaymentsRole")
		for _, want := range []string{
			"arn:aws:dynamodb:" + region + ":111111111111:table/payment-sessions-prod",
			"secret:payment-dr/prod/db-app-??????",
			"secret:payment-dr/prod/api-key-??????",
		} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s: policy lacks %s", region, want)
			}
		}
		// The payment service connects as the app user: the master
		// credentials belong to the migration function alone.
		if strings.Contains(doc, "db-master") {
			t.Errorf("%s: the payment Lambda may read the master secret", region)
		}
		if strings.Contains(doc, `"dynamodb:*"`) || strings.Contains(doc, `"Action":"*"`) {
			t.Errorf("%s: wildcard actions in %s", region, doc)
		}
		for id, role := range tpl.Resources {
			// CDK's own cross-Region reference provider is the one role
			// this app does not define; every role of ours uses managed policies.
			if role.Type == "AWS::IAM::Role" && role.Properties["Policies"] != nil && !strings.HasPrefix(id, "CustomCrossRegionExport") {
				t.Errorf("%s: inline policy on role %s", region, id)
			}
		}
	}
}

func TestFailoverRoutingAliasesEachRegionsAPI(t *testing.T) {
	s := synthesize(t)
	global := s.templates["global"]
	if global.count("AWS::Route53::HostedZone") != 1 {
		t.Fatal("want one hosted zone")
	}
	global.one(t, "AWS::Route53::HostedZone", map[string]any{"Name": "payment-prod.example.com."})
	for _, region := range s.cfg.Regions() {
		found := false
		for _, h := range global.ofType("AWS::Route53::HealthCheck") {
			c := h.Properties["HealthCheckConfig"].(map[string]any)
			if c["FullyQualifiedDomainName"] == "api-"+region+".payment-prod.example.com" {
				found = true
				if c["Type"] != "HTTPS" || c["ResourcePath"] != "/health" || c["RequestInterval"] != 10.0 || c["FailureThreshold"] != 3.0 || c["Port"] != 443.0 {
					t.Errorf("%s health check: %v", region, c)
				}
			}
		}
		if !found {
			t.Errorf("no health check on %s's real /health", region)
		}
		tpl := s.templates[region]
		role := "SECONDARY"
		if region == s.cfg.PrimaryRegion {
			role = "PRIMARY"
		}
		rec := tpl.one(t, "AWS::Route53::RecordSet", map[string]any{"Name": "api.payment-prod.example.com", "Failover": role})
		if prop(rec, "SetIdentifier") != region || prop(rec, "HealthCheckId") == nil {
			t.Errorf("%s: failover record %v", region, rec.Properties)
		}
		if !contains(prop(rec, "AliasTarget", "DNSName"), "ApiFailoverDomain") {
			t.Errorf("%s: failover record must alias this Region's API domain: %v", region, rec.Properties["AliasTarget"])
		}
		if strings.Contains(jsonOf(rec.Properties), "NatGateway") || strings.Contains(jsonOf(rec.Properties), "EIP") {
			t.Errorf("%s: record points at NAT addresses like the reference", region)
		}
		cert := tpl.ofType("AWS::CertificateManager::Certificate")[0]
		if prop(cert, "ValidationMethod") != "DNS" || !contains(cert.Properties["SubjectAlternativeNames"], "api-"+region) {
			t.Errorf("%s: certificate %v", region, cert.Properties)
		}
		api := tpl.ofType("AWS::ApiGatewayV2::Api")[0]
		if prop(api, "DisableExecuteApiEndpoint") != true || prop(api, "ProtocolType") != "HTTP" {
			t.Errorf("%s: api %v", region, api.Properties)
		}
		var routes []string
		for _, r := range tpl.ofType("AWS::ApiGatewayV2::Route") {
			routes = append(routes, fmt.Sprint(prop(r, "RouteKey")))
		}
		if got := strings.Join(routes, ","); !(strings.Contains(got, "POST /payments") && strings.Contains(got, "GET /payments/{id}") && strings.Contains(got, "GET /health")) {
			t.Errorf("%s: routes %s", region, got)
		}
		for _, d := range tpl.ofType("AWS::ApiGatewayV2::DomainName") {
			if !contains(d.Properties["DomainNameConfigurations"], "TLS_1_2") {
				t.Errorf("%s: domain without TLS 1.2 policy", region)
			}
		}
		stage := tpl.ofType("AWS::ApiGatewayV2::Stage")[0]
		if prop(stage, "AccessLogSettings", "DestinationArn") == nil {
			t.Errorf("%s: no access logs", region)
		}
	}
}

func TestEventsForwardToThePeerWithoutLoops(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		peer := s.cfg.Other(region)
		tpl := s.templates[region]
		tpl.one(t, "AWS::Events::EventBus", map[string]any{"Name": "payment-events-" + region + "-prod"})
		rule := tpl.one(t, "AWS::Events::Rule", map[string]any{"Name": "payment-forward-" + region + "-prod"})
		pattern := prop(rule, "EventPattern").(map[string]any)
		if jsonOf(pattern["source"]) != `["custom.payment"]` || jsonOf(pattern["detail-type"]) != `["Payment Processed","Payment Failed"]` {
			t.Errorf("%s: pattern %v", region, pattern)
		}
		if jsonOf(pattern["detail"]) != `{"originRegion":["`+region+`"]}` {
			t.Errorf("%s: rule must match only events that originated here (loop guard), got %v", region, pattern["detail"])
		}
		targets := prop(rule, "Targets").([]any)
		tgt := targets[0].(map[string]any)
		if len(targets) != 1 || tgt["Arn"] != "arn:aws:events:"+peer+":111111111111:event-bus/payment-events-"+peer+"-prod" || tgt["RoleArn"] == nil {
			t.Errorf("%s: target %v", region, targets)
		}
	}
}

func TestBackupsCopyToTheOtherRegion(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		peer := s.cfg.Other(region)
		tpl := s.templates[region]
		vault := tpl.one(t, "AWS::Backup::BackupVault", map[string]any{"BackupVaultName": "payment-vault-" + region + "-prod"})
		if vault.Properties["EncryptionKeyArn"] == nil {
			t.Errorf("%s: vault not encrypted with the Region's key", region)
		}
		plan := tpl.ofType("AWS::Backup::BackupPlan")[0]
		rule := prop(plan, "BackupPlan", "BackupPlanRule").([]any)[0].(map[string]any)
		if rule["ScheduleExpression"] != "cron(0 3 * * ? *)" || jsonOf(rule["Lifecycle"]) != `{"DeleteAfterDays":7}` {
			t.Errorf("%s: rule %v", region, rule)
		}
		if !contains(rule["CopyActions"], "arn:aws:backup:"+peer+":111111111111:backup-vault:payment-vault-"+peer+"-prod") {
			t.Errorf("%s: no copy to %s: %v", region, peer, rule["CopyActions"])
		}
		sel := tpl.ofType("AWS::Backup::BackupSelection")[0]
		if !contains(sel.Properties, `"ConditionKey":"Backup","ConditionType":"STRINGEQUALS","ConditionValue":"daily"`) {
			t.Errorf("%s: selection %v", region, sel.Properties)
		}
	}
}

func TestAlarmsWatchTheRightMetricsAndNotify(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		byMetric := map[string]resource{}
		for _, a := range tpl.ofType("AWS::CloudWatch::Alarm") {
			byMetric[fmt.Sprint(prop(a, "MetricName"))] = a
			if a.Properties["AlarmActions"] == nil || a.Properties["OKActions"] == nil {
				t.Errorf("%s: alarm %v has no actions", region, a.Properties["AlarmName"])
			}
		}
		lag, ok := byMetric["AuroraGlobalDBReplicationLag"]
		if !ok || !contains(lag.Properties["Dimensions"], `"Value":"payments-`+region+`-prod"`) || prop(lag, "Threshold") != 60000.0 {
			t.Errorf("%s: replication-lag alarm %v", region, lag.Properties)
		}
		ddb, ok := byMetric["ReplicationLatency"]
		if !ok || !contains(ddb.Properties["Dimensions"], s.cfg.Other(region)) {
			t.Errorf("%s: DynamoDB replication alarm %v", region, ddb.Properties)
		}
		if _, ok := byMetric["Errors"]; !ok {
			t.Errorf("%s: no Lambda errors alarm", region)
		}
		dash := jsonOf(tpl.ofType("AWS::CloudWatch::Dashboard")[0].Properties["DashboardBody"])
		for _, want := range []string{"DBClusterIdentifier", "payments-" + region + "-prod", "ReceivingRegion", "FunctionName"} {
			if !strings.Contains(dash, want) {
				t.Errorf("%s: dashboard lacks dimension %s", region, want)
			}
		}
		topic := tpl.ofType("AWS::SNS::Topic")[0]
		if topic.Properties["KmsMasterKeyId"] == nil {
			t.Errorf("%s: alarm topic not encrypted", region)
		}
		tpl.one(t, "AWS::SNS::Subscription", map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})
	}
	// /health is 200 only where the database takes writes, so one Region
	// is healthy at a time: the alarms watch the pair, not each check.
	global := s.templates["global"]
	want := map[string]string{"payment-no-writable-region-prod": "LessThanThreshold breaching", "payment-two-writable-regions-prod": "GreaterThanThreshold notBreaching"}
	for _, a := range global.ofType("AWS::CloudWatch::Alarm") {
		name := fmt.Sprint(prop(a, "AlarmName"))
		op, ok := want[name]
		if !ok {
			continue
		}
		delete(want, name)
		metrics := jsonOf(a.Properties["Metrics"])
		if fmt.Sprint(prop(a, "ComparisonOperator"), " ", prop(a, "TreatMissingData")) != op || a.Properties["AlarmActions"] == nil || strings.Count(metrics, "HealthCheckStatus") != 2 {
			t.Errorf("%s: %v", name, a.Properties)
		}
	}
	if len(want) != 0 {
		t.Errorf("missing health alarms %v", want)
	}
}

func TestLogGroupsHaveRetentionAndEncryption(t *testing.T) {
	s := synthesize(t)
	for name, tpl := range s.templates {
		for _, lg := range tpl.ofType("AWS::Logs::LogGroup") {
			if lg.Properties["RetentionInDays"] == nil || lg.Properties["KmsKeyId"] == nil {
				t.Errorf("%s: log group without retention or KMS: %v", name, lg.Properties)
			}
		}
	}
}

func TestParametersForDRInBothRegions(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		role := "secondary"
		if region == s.cfg.PrimaryRegion {
			role = "primary"
		}
		tpl := s.templates[region]
		for _, name := range []string{
			"/payment/prod/db/" + role + "/endpoint", "/payment/prod/db/" + role + "/reader-endpoint",
			"/payment/prod/dr/zone-id",
			"/payment/prod/dr/health-check/us-east-1", "/payment/prod/dr/health-check/us-west-2", "/payment/prod/api/key-secret-id",
		} {
			p := tpl.one(t, "AWS::SSM::Parameter", map[string]any{"Name": name})
			if p.Properties["Type"] != "String" {
				t.Errorf("%s: %s type %v", region, name, p.Properties["Type"])
			}
		}
	}
}

func TestDRRoleIsScopedAndRequiresMFA(t *testing.T) {
	s := synthesize(t)
	global := s.templates["global"]
	role := global.one(t, "AWS::IAM::Role", map[string]any{"RoleName": "payment-dr-automation-prod"})
	if !contains(role.Properties["AssumeRolePolicyDocument"], "aws:MultiFactorAuthPresent") {
		t.Errorf("DR role trust: %v", role.Properties["AssumeRolePolicyDocument"])
	}
	var doc string
	for _, p := range global.ofType("AWS::IAM::ManagedPolicy") {
		if contains(p.Properties["Roles"], "DRAutomationRole") {
			doc += jsonOf(p.Properties["PolicyDocument"])
		}
	}
	if doc == "" {
		t.Fatal("DR role has no managed policy")
	}
	for _, want := range []string{"rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster", "global-cluster:payments-global-prod"} {
		if !strings.Contains(doc, want) {
			t.Errorf("DR policy lacks %s", want)
		}
	}
	if strings.Contains(doc, `"rds:*"`) || strings.Contains(doc, `role/*`) {
		t.Errorf("DR policy is over-broad: %s", doc)
	}
}

func TestOutputsOfTheReference(t *testing.T) {
	s := synthesize(t)
	want := map[string][]string{
		"global":              {"ZoneId", "DRRoleArn"},
		s.cfg.PrimaryRegion:   {"VpcId", "GlobalClusterId", "ClusterEndpoint", "SessionTableName", "LambdaArn", "ApiEndpoint", "BackupVaultName"},
		s.cfg.SecondaryRegion: {"VpcId", "ClusterEndpoint", "LambdaArn", "ApiEndpoint", "BackupVaultName"},
	}
	for name, outs := range want {
		for _, o := range outs {
			if _, ok := s.templates[name].Outputs[o]; !ok {
				t.Errorf("%s: output %s missing", name, o)
			}
		}
	}
}

func TestCdkNagAwsSolutionsAndPCIHaveNoUnsuppressedErrors(t *testing.T) {
	s := synthesize(t)
	for _, e := range s.nagErrors {
		t.Error(e)
	}
	// Every suppression carries its reason into the template metadata.
	n := 0
	for name, tpl := range s.templates {
		re := regexp.MustCompile(`(?s)"rules_to_suppress":\s*\[(.*?)\]`)
		for _, m := range re.FindAllStringSubmatch(tpl.raw, -1) {
			for _, reason := range regexp.MustCompile(`"reason":\s*"([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
				n++
				if len(reason[1]) < 40 {
					t.Errorf("%s: suppression reason too thin: %q", name, reason[1])
				}
			}
		}
	}
	if n == 0 {
		t.Error("no suppressions found in metadata; the check above would be vacuous")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if synthRes != nil {
		_ = os.RemoveAll(synthRes.dir)
	}
	os.Exit(code)
}

// TestNamesDoNotCollide: stacks that share a Region (the global stack and
// the primary, both in us-east-1 by default) or an account-wide namespace
// (IAM) must not claim the same physical name, or the second deploy fails.
func TestNamesDoNotCollide(t *testing.T) {
	s := synthesize(t)
	regionOf := map[string]string{"global": GlobalRegion, s.cfg.PrimaryRegion: s.cfg.PrimaryRegion, s.cfg.SecondaryRegion: s.cfg.SecondaryRegion}
	nameProp := map[string]string{
		"AWS::KMS::Alias": "AliasName", "AWS::SNS::Topic": "TopicName", "AWS::CloudWatch::Alarm": "AlarmName",
		"AWS::SSM::Parameter": "Name", "AWS::CloudWatch::Dashboard": "DashboardName", "AWS::Events::EventBus": "Name",
		"AWS::IAM::Role": "RoleName", "AWS::Lambda::Function": "FunctionName", "AWS::RDS::DBCluster": "DBClusterIdentifier",
	}
	seen := map[string]string{}
	checked := 0
	for stackName, tpl := range s.templates {
		for _, r := range tpl.Resources {
			p, ok := nameProp[r.Type]
			if !ok || r.Properties[p] == nil {
				continue
			}
			scope := regionOf[stackName]
			if r.Type == "AWS::IAM::Role" {
				scope = "account"
			}
			key := scope + " " + r.Type + " " + jsonOf(r.Properties[p])
			if other, dup := seen[key]; dup {
				t.Errorf("%s declared by both %s and %s", key, other, stackName)
			}
			seen[key] = stackName
			checked++
		}
	}
	if checked < 30 {
		t.Fatalf("only %d named resources checked", checked)
	}
}

func TestScheduledEvaluateIsReadOnlyAndAlarms(t *testing.T) {
	s := synthesize(t)
	global := s.templates["global"]
	fn := global.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": "payment-dr-evaluate-prod"})
	env := prop(fn, "Environment", "Variables").(map[string]any)
	cfg, err := config.Parse([]byte(fmt.Sprint(env["PAYMENT_DR_CONFIG_JSON"])))
	if err != nil || cfg.Environment != "prod" || env["DR_ROLE_ARN"] == nil {
		t.Fatalf("evaluator environment: %v %v", err, env)
	}
	rule := global.one(t, "AWS::Events::Rule", map[string]any{"ScheduleExpression": "rate(15 minutes)"})
	if !contains(rule.Properties["Targets"], "ScheduledEvaluateFunction") {
		t.Errorf("schedule does not target the evaluator: %v", rule.Properties["Targets"])
	}
	alarm := global.one(t, "AWS::CloudWatch::Alarm", map[string]any{"MetricName": "EvaluateFindings"})
	if alarm.Properties["AlarmActions"] == nil || alarm.Properties["TreatMissingData"] != "breaching" || alarm.Properties["Namespace"] != "PaymentDR" {
		t.Errorf("evaluate alarm %v", alarm.Properties)
	}
	var docs []string
	for _, p := range global.ofType("AWS::IAM::ManagedPolicy") {
		if contains(p.Properties["Roles"], "ScheduledEvaluateRole") {
			docs = append(docs, jsonOf(p.Properties["PolicyDocument"]))
		}
	}
	all := strings.Join(docs, "\n")
	for _, changing := range []string{"SwitchoverGlobalCluster", "FailoverGlobalCluster", "PutParameter", "PutFunctionConcurrency", "InvokeFunction", "CopyDBClusterSnapshot", "RestoreDBClusterFromSnapshot"} {
		if strings.Contains(all, changing) {
			t.Errorf("the evaluator may %s", changing)
		}
	}
	for _, reads := range []string{"iam:SimulatePrincipalPolicy", `"cloudwatch:namespace":"PaymentDR"`, "rds:DescribeGlobalClusters", "route53:GetHealthCheckStatus", "backup:ListRecoveryPointsByBackupVault"} {
		if !strings.Contains(all, reads) {
			t.Errorf("the evaluator's %d policies lack %s:\n%s", len(docs), reads, all)
		}
	}
	// One managed policy of its own and the read-only part of each DR
	// policy: each stays far below IAM's size limit.
	if want := 1 + len(drpolicy.Policies(config.Config{})); len(docs) != want {
		t.Errorf("the evaluator has %d managed policies, want %d", len(docs), want)
	}
}
