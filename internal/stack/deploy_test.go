package stack

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Tests of what would stall, break or fail over wrongly on a real account.
// Each reads the synthesized templates.

// producer follows a cross-stack reference (same-Region Fn::ImportValue
// or CDK's cross-Region export reader) to the resource it names in the
// producing template: its template key and logical id.
func (s *synthesized) producer(t *testing.T, consumer string, v any) (string, string) {
	t.Helper()
	m, _ := v.(map[string]any)
	if imp, ok := m["Fn::ImportValue"].(string); ok {
		for name, tpl := range s.templates {
			for _, out := range tpl.Outputs {
				if jsonOf(out["Export"]) == jsonOf(map[string]any{"Name": imp}) {
					return name, getAttTarget(t, out["Value"])
				}
			}
		}
		t.Fatalf("%s: export %s not found", consumer, imp)
	}
	ga, _ := m["Fn::GetAtt"].([]any)
	if len(ga) != 2 || !strings.HasPrefix(fmt.Sprint(ga[0]), "ExportsReader") {
		t.Fatalf("%s: %v is not a cross-stack reference", consumer, jsonOf(v))
	}
	for name, tpl := range s.templates {
		for _, r := range tpl.Resources {
			if exports, ok := prop(r, "WriterProps", "exports").(map[string]any); ok && exports[fmt.Sprint(ga[1])] != nil {
				return name, getAttTarget(t, exports[fmt.Sprint(ga[1])])
			}
		}
	}
	t.Fatalf("%s: cross-Region export %v not written by any stack", consumer, ga[1])
	return "", ""
}

func getAttTarget(t *testing.T, v any) string {
	t.Helper()
	m, _ := v.(map[string]any)
	if ga, ok := m["Fn::GetAtt"].([]any); ok {
		return fmt.Sprint(ga[0])
	}
	if ref, ok := m["Ref"].(string); ok {
		return ref
	}
	t.Fatalf("not a GetAtt or Ref: %s", jsonOf(v))
	return ""
}

// Wiring one Region's failover record to the other Region's health check
// would keep DNS on a Region whose database is read-only: each record must
// carry the check that probes its own Region's /health.
func TestFailoverRecordCarriesItsOwnRegionsHealthCheck(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		var rec resource
		for _, r := range tpl.ofType("AWS::Route53::RecordSet") {
			if r.Properties["Failover"] != nil {
				rec = r
			}
		}
		if rec.Properties == nil {
			t.Fatalf("%s: no failover record", region)
		}
		stack, id := s.producer(t, region, rec.Properties["HealthCheckId"])
		hc, ok := s.templates[stack].Resources[id]
		if !ok || hc.Type != "AWS::Route53::HealthCheck" {
			t.Fatalf("%s: failover record's health check resolves to %s/%s (%s)", region, stack, id, hc.Type)
		}
		if got := prop(hc, "HealthCheckConfig", "FullyQualifiedDomainName"); got != "api-"+region+".payment-prod.example.com" {
			t.Errorf("%s: failover record carries the health check of %v", region, got)
		}
	}
}

// The secondary member of a global database may have no Endpoint.Address
// (CloudFormation: "Requested attribute Endpoint.Address does not exist"):
// no template reads it, and DB_HOST is the endpoint derived from the
// reader endpoint of the Region's own cluster.
func TestNoClusterEndpointAddressIsRead(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		if strings.Contains(tpl.raw, `"Endpoint.Address"`) || regexp.MustCompile(`[^d]EndpointAddress`).MatchString(tpl.raw) {
			t.Errorf("%s: reads a cluster's Endpoint.Address", region)
		}
		var clusterID string
		for id, r := range tpl.Resources {
			if r.Type == "AWS::RDS::DBCluster" {
				clusterID = id
			}
		}
		fn := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": "payment-processor-" + region + "-prod"})
		host := jsonOf(prop(fn, "Environment", "Variables", "DB_HOST"))
		want := `{"Fn::Join":[".cluster-",[{"Fn::Select":[0,{"Fn::Split":[".cluster-ro-",{"Fn::GetAtt":["` + clusterID + `","ReadEndpoint.Address"]}]}]}`
		if !strings.HasPrefix(host, want) {
			t.Errorf("%s: DB_HOST %s, want the cluster endpoint derived from %s's reader endpoint", region, host, clusterID)
		}
	}
}

// drctl owns the active Region and the writer endpoint after a failover:
// the template creates them once, if absent, and never updates or deletes
// them, so a stack update cannot reset them to the primary.
func TestDRStateParametersAreCreatedOnceNotOwned(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		for _, name := range []string{"/payment/prod/dr/active-region", "/payment/prod/dr/writer-endpoint"} {
			for _, p := range tpl.ofType("AWS::SSM::Parameter") {
				if p.Properties["Name"] == name {
					t.Errorf("%s: %s is an AWS::SSM::Parameter whose value the template owns", region, name)
				}
			}
			found := 0
			for _, r := range tpl.ofType("Custom::AWS") {
				create := jsonOf(r.Properties["Create"])
				if !strings.Contains(create, `\"Name\":\"`+name+`\"`) {
					continue
				}
				found++
				for _, want := range []string{`\"action\":\"PutParameter\"`, `\"Overwrite\":false`, `\"ignoreErrorCodesMatching\":\"ParameterAlreadyExists\"`} {
					if !strings.Contains(create, want) {
						t.Errorf("%s: %s create call lacks %s: %s", region, name, want, create)
					}
				}
				if r.Properties["Update"] != nil || r.Properties["Delete"] != nil {
					t.Errorf("%s: %s is updated or deleted by the stack", region, name)
				}
				if name == "/payment/prod/dr/active-region" && !strings.Contains(create, `\"Value\":\"`+s.cfg.PrimaryRegion+`\"`) {
					t.Errorf("%s: active Region does not start as the primary: %s", region, create)
				}
			}
			if found != 1 {
				t.Errorf("%s: %d create-once calls for %s, want 1", region, found, name)
			}
		}
	}
}

// AWS Backup skips Aurora and DynamoDB (and cannot copy DynamoDB across
// Regions) until the Region opts in; the stack opts in. AWS Backup
// protects Aurora per cluster, so the instance carries no Backup tag.
func TestBackupOptInAndNoInstanceTag(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		found := false
		for _, r := range tpl.ofType("Custom::AWS") {
			create := jsonOf(r.Properties["Create"])
			if strings.Contains(create, `UpdateRegionSettings`) {
				found = true
				for _, want := range []string{`\"ResourceTypeOptInPreference\":{\"Aurora\":true,\"DynamoDB\":true}`, `\"ResourceTypeManagementPreference\":{\"DynamoDB\":true}`} {
					if !strings.Contains(create, want) {
						t.Errorf("%s: opt-in lacks %s: %s", region, want, create)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: no AWS Backup opt-in", region)
		}
		inst := tpl.ofType("AWS::RDS::DBInstance")[0]
		if contains(inst.Properties["Tags"], `"Key":"Backup"`) {
			t.Errorf("%s: the DB instance carries the Backup tag", region)
		}
		if cl := tpl.ofType("AWS::RDS::DBCluster")[0]; !contains(cl.Properties["Tags"], `{"Key":"Backup","Value":"daily"}`) {
			t.Errorf("%s: the cluster lost its Backup tag", region)
		}
	}
}

// AZ names map to different zones in each account and may not exist in
// it (cfn-lint W3010); subnets are placed by AZ ID.
func TestSubnetsArePlacedByAZID(t *testing.T) {
	s := synthesize(t)
	prefix := map[string]string{"us-east-1": "use1-az", "us-west-2": "usw2-az"}
	for _, region := range s.cfg.Regions() {
		ids := map[string]bool{}
		for _, sn := range s.templates[region].ofType("AWS::EC2::Subnet") {
			if sn.Properties["AvailabilityZone"] != nil {
				t.Errorf("%s: subnet placed by AZ name %v", region, sn.Properties["AvailabilityZone"])
			}
			id := fmt.Sprint(sn.Properties["AvailabilityZoneId"])
			if !strings.HasPrefix(id, prefix[region]) {
				t.Errorf("%s: subnet AZ ID %s", region, id)
			}
			ids[id] = true
		}
		if len(ids) != 3 {
			t.Errorf("%s: subnets in %d AZ IDs, want 3", region, len(ids))
		}
	}
}

// The interface endpoints' group admits HTTPS from the Lambda's group
// only, not CDK's default of the whole VPC CIDR.
func TestInterfaceEndpointsAdmitOnlyTheLambda(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		var sgID string
		for id, r := range tpl.Resources {
			if r.Type == "AWS::EC2::SecurityGroup" && strings.HasPrefix(fmt.Sprint(r.Properties["GroupDescription"]), "interface endpoints") {
				sgID = id
				if r.Properties["SecurityGroupIngress"] != nil {
					t.Errorf("%s: endpoint group has inline ingress %s", region, jsonOf(r.Properties["SecurityGroupIngress"]))
				}
			}
		}
		if sgID == "" {
			t.Fatalf("%s: no endpoint security group", region)
		}
		n := 0
		for _, in := range tpl.ofType("AWS::EC2::SecurityGroupIngress") {
			if !contains(in.Properties["GroupId"], sgID) {
				continue
			}
			n++
			if in.Properties["CidrIp"] != nil || !contains(in.Properties["SourceSecurityGroupId"], "NetworkLambdaSG") {
				t.Errorf("%s: endpoint ingress not limited to the Lambda's group: %s", region, jsonOf(in.Properties))
			}
		}
		if n != 1 {
			t.Errorf("%s: %d ingress rules on the endpoint group, want 1", region, n)
		}
	}
}

// Service principals act only for this account's alarms and this
// Region's forwarding rule (confused deputy).
func TestServicePrincipalsAreScopedToTheirSource(t *testing.T) {
	s := synthesize(t)
	for name, tpl := range s.templates {
		for _, p := range tpl.ofType("AWS::SNS::TopicPolicy") {
			for _, st := range prop(p, "PolicyDocument", "Statement").([]any) {
				if contains(st, "cloudwatch.amazonaws.com") && !contains(st, `"aws:SourceAccount":"111111111111"`) {
					t.Errorf("%s: CloudWatch may publish without aws:SourceAccount: %s", name, jsonOf(st))
				}
			}
		}
	}
	for _, region := range s.cfg.Regions() {
		found := false
		for _, r := range s.templates[region].ofType("AWS::IAM::Role") {
			trust := jsonOf(r.Properties["AssumeRolePolicyDocument"])
			if strings.Contains(trust, "events.amazonaws.com") {
				found = true
				rule := "arn:aws:events:" + region + ":111111111111:rule/payment-events-" + region + "-prod/payment-forward-" + region + "-prod"
				if !strings.Contains(trust, `"aws:SourceArn":"`+rule+`"`) {
					t.Errorf("%s: event role trust lacks aws:SourceArn %s: %s", region, rule, trust)
				}
			}
		}
		if !found {
			t.Errorf("%s: no event-forwarding role", region)
		}
	}
}

// drctl (the DR role) reads the API key for the drill's canaries, which
// the primary Region's customer key encrypts: it may decrypt, through
// Secrets Manager in that Region only. The scheduled evaluator reads no
// secret (TestScheduledEvaluatorReadsNoSecret).
func TestDRRoleMayDecryptTheAPIKey(t *testing.T) {
	s := synthesize(t)
	n := 0
	want := `{"Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}},"Effect":"Allow","Resource":"arn:aws:kms:us-east-1:111111111111:key/*"`
	for _, p := range s.templates["global"].ofType("AWS::IAM::ManagedPolicy") {
		if contains(p.Properties["Roles"], "DRAutomationRole") && contains(p.Properties["PolicyDocument"], want) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of the DR role's policies hold %s", n, want)
	}
}
