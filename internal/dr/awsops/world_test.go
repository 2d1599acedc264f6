package awsops

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/dnscheck/dnstest"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// sdkWorld answers on one loopback endpoint like every service drctl
// calls, in each service's own wire protocol: RDS, IAM and STS (query,
// XML), SSM (JSON 1.1), DynamoDB (JSON 1.0), CloudWatch (RPC v2 CBOR),
// Route 53 (REST XML), Backup and Lambda (REST JSON). The Region of a
// request is read from its SigV4 credential scope, so each Region has its
// own parameters. A TLS server plays the payment API's /health on the
// Regional and failover names.
type sdkWorld struct {
	mu       sync.Mutex
	writer   string
	pending  string // target of a move in progress
	polls    int    // DescribeGlobalClusters polls until the move completes
	lagMs    float64
	params   map[string]map[string]string // Region -> name -> value
	denied   map[string]bool              // "action resource" pairs IAM denies
	items    map[string]map[string]any    // DynamoDB items by sessionId
	requests []string
	reserved *int
	// fenced: Regions whose payment function has reserved concurrency 0
	// (PutFunctionConcurrency), until DeleteFunctionConcurrency.
	fenced    map[string]bool
	headless  string // Region whose cluster has no instance
	simulated string // PolicySourceArn seen by SimulatePrincipalPolicy
	// hang: every endpoint of these Regions accepts and never answers.
	hang map[string]bool
	// snapshots is the DBClusterSnapshots XML DescribeDBClusterSnapshots returns.
	snapshots string
	// data serves the Data API: cluster ARN -> database (reconcile tests).
	data *dataAPI
	// restored: the temporary cluster's DescribeDBClusters polls until
	// available; -1 when it does not exist. restoredFrom is its snapshot.
	restored     int
	restoredFrom string
	// instance: the temporary cluster's instance's DescribeDBInstances
	// polls until available; -1 when it does not exist.
	instance int
	// failEnable: EnableHttpEndpoint calls to refuse (a throttled or
	// failed call after the restore).
	failEnable int
	// fail500: requests ("rds-data /Execute", "rds FailoverGlobalCluster")
	// to answer with a 500 after doing nothing; slow: requests to hold
	// that long before serving (once).
	fail500 map[string]int
	slow    map[string]time.Duration
	// replayErr: the payment function's journal replay fails with it;
	// invokeTakes: each invocation runs that long before it answers.
	replayErr   string
	invokeTakes time.Duration
}

// fault answers op with a 500 (nothing done) or holds it, as set up.
func (w *sdkWorld) fault(rw http.ResponseWriter, op string, xml bool) bool {
	if d := w.slow[op]; d > 0 {
		delete(w.slow, op)
		time.Sleep(d)
	}
	if w.fail500[op] <= 0 {
		return false
	}
	w.fail500[op]--
	if xml {
		rw.WriteHeader(500)
		io.WriteString(rw, `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal error</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
		return true
	}
	rw.Header().Set("X-Amzn-ErrorType", "InternalServerErrorException")
	rw.WriteHeader(500)
	io.WriteString(rw, `{"message":"internal error"}`)
	return true
}

// hung blocks a request to a hanging Region until the client gives up.
func (w *sdkWorld) hung(r *http.Request, region, what string) bool {
	w.mu.Lock()
	h := w.hang[region]
	if h {
		w.log("hung " + region + " " + what)
	}
	w.mu.Unlock()
	if h {
		<-r.Context().Done()
	}
	return h
}

var scopeRe = regexp.MustCompile(`Credential=[^/]+/[0-9]+/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func newSDKWorld() *sdkWorld {
	w := &sdkWorld{restored: -1, instance: -1, fail500: map[string]int{}, slow: map[string]time.Duration{}, writer: "us-east-1", lagMs: 900, denied: map[string]bool{}, items: map[string]map[string]any{}, hang: map[string]bool{}, fenced: map[string]bool{},
		params: map[string]map[string]string{"us-east-1": {}, "us-west-2": {}}}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		p := w.params[r]
		p["/payment/dev/dr/health-check/us-east-1"] = "hc-us-east-1"
		p["/payment/dev/dr/health-check/us-west-2"] = "hc-us-west-2"
		p["/payment/dev/dr/zone-id"] = "ZONE1"
		p["/payment/dev/dr/active-region"] = "us-east-1"
	}
	return w
}

func (w *sdkWorld) writable(region string) bool { return w.writer == region && w.pending == "" }

func (w *sdkWorld) log(s string) { w.requests = append(w.requests, s) }

func (w *sdkWorld) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	region, service := "", ""
	if m := scopeRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region, service = m[1], m[2]
	}
	if w.hung(r, region, service+" "+r.Header.Get("X-Amz-Target")+" "+r.URL.Path+" "+string(body[:min(len(body), 60)])) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case service == "monitoring":
		w.cloudWatch(rw, r, body, region)
	case service == "ssm":
		w.ssm(rw, r, body, region)
	case service == "dynamodb":
		w.dynamo(rw, r, body, region)
	case service == "route53":
		w.route53(rw, r)
	case service == "rds-data":
		w.log("rds-data " + region + " " + r.URL.Path)
		if !w.fault(rw, "rds-data "+r.URL.Path, false) {
			w.data.serve(rw, r.URL.Path, body)
		}
	case service == "secretsmanager":
		var in struct{ SecretId string }
		_ = json.Unmarshal(body, &in)
		w.log("secretsmanager " + region + " " + r.Header.Get("X-Amz-Target") + " " + in.SecretId)
		rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(rw, `{"ARN":"arn:aws:secretsmanager:%s:111111111111:secret:%s-AbCdEf","Name":%q}`, region, in.SecretId, in.SecretId)
	case service == "backup":
		w.log("backup " + region + " " + r.URL.Path)
		fmt.Fprintf(rw, `{"RecoveryPoints":[{"Status":"COMPLETED","CreationDate":%d},{"Status":"PARTIAL","CreationDate":%d}]}`,
			time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC).Unix(), time.Date(2026, 11, 25, 3, 30, 0, 0, time.UTC).Unix())
	case service == "lambda" && strings.HasSuffix(r.URL.Path, "/invocations"):
		w.invoke(rw, r, body, region)
	case service == "lambda":
		w.log("lambda " + region + " " + r.Method + " " + r.URL.Path + " " + string(body))
		if strings.HasSuffix(r.URL.Path, "/concurrency") {
			w.concurrency(rw, r, body, region)
			return
		}
		conc := ""
		if w.reserved != nil {
			conc = fmt.Sprintf(`,"Concurrency":{"ReservedConcurrentExecutions":%d}`, *w.reserved)
		}
		fmt.Fprintf(rw, `{"Configuration":{"FunctionName":%q,"State":"Active"}%s}`, strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), conc)
	default: // query protocol: RDS, IAM, STS
		form, _ := url.ParseQuery(string(body))
		w.query(rw, form, region, service)
	}
}

// concurrency serves the Lambda reserved-concurrency calls (Lambda API
// reference): PutFunctionConcurrency (PUT /2017-10-31/functions/{name}/
// concurrency) answers the value set, DeleteFunctionConcurrency (DELETE,
// same path) 204 with no body, GetFunctionConcurrency (GET
// /2019-09-30/functions/{name}/concurrency) {"ReservedConcurrentExecutions":
// n}, or {} when none is reserved.
func (w *sdkWorld) concurrency(rw http.ResponseWriter, r *http.Request, body []byte, region string) {
	rw.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodPut:
		var in struct{ ReservedConcurrentExecutions int }
		_ = json.Unmarshal(body, &in)
		w.fenced[region] = in.ReservedConcurrentExecutions == 0
		rw.Write(body)
	case http.MethodDelete:
		delete(w.fenced, region)
		rw.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		switch {
		case w.reserved != nil:
			fmt.Fprintf(rw, `{"ReservedConcurrentExecutions":%d}`, *w.reserved)
		case w.fenced[region]:
			io.WriteString(rw, `{"ReservedConcurrentExecutions":0}`)
		default:
			io.WriteString(rw, `{}`)
		}
	}
}

// invoke answers Lambda's Invoke (POST /2015-03-31/functions/{name}/invocations,
// the event as the body, X-Amz-Invocation-Type): HTTP 200 with the
// function's answer as the body; a function error is also HTTP 200, with
// X-Amz-Function-Error: Unhandled and an {"errorMessage", "errorType"}
// body (Lambda API Reference, Invoke: response elements).
func (w *sdkWorld) invoke(rw http.ResponseWriter, r *http.Request, body []byte, region string) {
	w.log("lambda " + region + " invoke " + r.URL.Path + " " + r.Header.Get("X-Amz-Invocation-Type") + " " + string(body))
	if w.fenced[region] {
		// Reserved concurrency 0 throttles every invocation (Lambda API
		// Reference, Invoke errors: TooManyRequestsException, HTTP 429).
		rw.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		rw.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(rw, `{"message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}`)
		return
	}
	if w.fault(rw, "lambda invoke", false) {
		return
	}
	if d := w.invokeTakes; d > 0 {
		// The function runs on whether or not the client still waits.
		w.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		w.mu.Lock()
	}
	if w.replayErr != "" {
		rw.Header().Set("X-Amz-Function-Error", "Unhandled")
		fmt.Fprintf(rw, `{"errorMessage":%q,"errorType":"errorString"}`, w.replayErr)
		return
	}
	if strings.Contains(string(body), `"replayWindowAfter"`) {
		io.WriteString(rw, `{"from":"2026-11-25T03:59:45Z","to":"2026-11-25T04:10:05Z","mark":"2026-11-25T04:00:00Z"}`)
		return
	}
	io.WriteString(rw, `{"replayed":[{"key":"a2V5LWxvc3Q=","paymentId":"p-lost"}],"present":3,"released":1}`)
}

func (w *sdkWorld) cloudWatch(rw http.ResponseWriter, r *http.Request, body []byte, region string) {
	in, err := cbor.Decode(body)
	m, _ := in.(cbor.Map)
	q := m["MetricDataQueries"].(cbor.List)[0].(cbor.Map)
	metric := q["MetricStat"].(cbor.Map)["Metric"].(cbor.Map)
	dims := []string{}
	for _, d := range metric["Dimensions"].(cbor.List) {
		dm := d.(cbor.Map)
		dims = append(dims, fmt.Sprintf("%s=%s", dm["Name"], dm["Value"]))
	}
	sort.Strings(dims)
	w.log(fmt.Sprintf("cloudwatch %s %s %s %v %v", region, metric["MetricName"], strings.Join(dims, ","), strings.HasSuffix(r.URL.Path, "/operation/GetMetricData"), err))
	v := w.lagMs
	if metric["MetricName"] == cbor.String("ReplicationLatency") {
		v = 250
	}
	rw.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	rw.Header().Set("Content-Type", "application/cbor")
	rw.Write(cbor.Encode(cbor.Map{"MetricDataResults": cbor.List{cbor.Map{
		"Id": cbor.String("m"), "StatusCode": cbor.String("Complete"), "Values": cbor.List{cbor.Float64(v), cbor.Float64(1)},
	}}}))
}

func (w *sdkWorld) ssm(rw http.ResponseWriter, r *http.Request, body []byte, region string) {
	var in struct{ Name, Value string }
	_ = json.Unmarshal(body, &in)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	w.log("ssm " + region + " " + op + " " + in.Name)
	rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if op == "PutParameter" {
		w.params[region][in.Name] = in.Value
		io.WriteString(rw, `{"Version":2}`)
		return
	}
	v, ok := w.params[region][in.Name]
	if !ok {
		rw.WriteHeader(400)
		io.WriteString(rw, `{"__type":"ParameterNotFound","message":"not found"}`)
		return
	}
	fmt.Fprintf(rw, `{"Parameter":{"Name":%q,"Value":%q,"Type":"String"}}`, in.Name, v)
}

func (w *sdkWorld) dynamo(rw http.ResponseWriter, r *http.Request, body []byte, region string) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var in struct {
		TableName string
		Key, Item map[string]map[string]any
	}
	_ = json.Unmarshal(body, &in)
	w.log("dynamodb " + region + " " + op + " " + in.TableName)
	rw.Header().Set("Content-Type", "application/x-amz-json-1.0")
	switch op {
	case "DescribeTable":
		fmt.Fprintf(rw, `{"Table":{"TableName":%q,"Replicas":[{"RegionName":"us-east-1","ReplicaStatus":"ACTIVE"},{"RegionName":"us-west-2","ReplicaStatus":"UPDATING"}]}}`, in.TableName)
	case "PutItem":
		key := itemKey(in.Item)
		item := map[string]any{}
		for k, v := range in.Item {
			item[k] = v
		}
		w.items[key] = item
		io.WriteString(rw, `{}`)
	case "GetItem":
		item, ok := w.items[itemKey(in.Key)]
		if !ok {
			io.WriteString(rw, `{}`)
			return
		}
		b, _ := json.Marshal(map[string]any{"Item": item})
		rw.Write(b)
	}
}

// itemKey is an item's key in either table the world holds: the session
// table (sessionId) or the payment journal (pk, sk). The world applies
// every PutItem unconditionally: the permission test needs the
// operations, not their conditions; the conditions of the writer record
// are exercised against dynalite and the lab's MRSC stand-in (package
// claims), which evaluate them as PutItem's ConditionExpression does
// (DynamoDB API Reference, PutItem).
func itemKey(it map[string]map[string]any) string {
	if v, ok := it["sessionId"]["S"].(string); ok {
		return v
	}
	pk, _ := it["pk"]["S"].(string)
	sk, _ := it["sk"]["S"].(string)
	return "journal " + pk + "/" + sk
}

func (w *sdkWorld) route53(rw http.ResponseWriter, r *http.Request) {
	w.log("route53 " + r.URL.Path)
	rw.Header().Set("Content-Type", "text/xml")
	const ns = `xmlns="https://route53.amazonaws.com/doc/2013-04-01/"`
	if strings.HasPrefix(r.URL.Path, "/2013-04-01/healthcheck/") {
		region := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/2013-04-01/healthcheck/"), "hc-"), "/status")
		status := "Failure: HTTP Status Code 503, Service Unavailable"
		if w.writable(region) {
			status = "Success: HTTP Status Code 200, OK"
		}
		obs := ""
		for _, from := range []string{"us-east-1", "eu-west-1", "ap-southeast-1"} {
			obs += fmt.Sprintf(`<HealthCheckObservation><Region>%s</Region><IPAddress>1.2.3.4</IPAddress><StatusReport><Status>%s</Status></StatusReport></HealthCheckObservation>`, from, status)
		}
		fmt.Fprintf(rw, `<GetHealthCheckStatusResponse %s><HealthCheckObservations>%s</HealthCheckObservations></GetHealthCheckStatusResponse>`, ns, obs)
		return
	}
	// ListResourceRecordSets: the PRIMARY record lost its health check.
	rec := func(region, role, hc string) string {
		h := ""
		if hc != "" {
			h = "<HealthCheckId>" + hc + "</HealthCheckId>"
		}
		return fmt.Sprintf(`<ResourceRecordSet><Name>api.payment-dev.example.com.</Name><Type>A</Type><SetIdentifier>%s</SetIdentifier><Failover>%s</Failover>%s<AliasTarget><HostedZoneId>Z2</HostedZoneId><DNSName>d-1.execute-api.%s.amazonaws.com.</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget></ResourceRecordSet>`, region, role, h, region)
	}
	fmt.Fprintf(rw, `<ListResourceRecordSetsResponse %s><ResourceRecordSets>%s%s</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListResourceRecordSetsResponse>`,
		ns, rec("us-east-1", "PRIMARY", ""), rec("us-west-2", "SECONDARY", "hc-us-west-2"))
}

func (w *sdkWorld) query(rw http.ResponseWriter, form url.Values, region, service string) {
	action := form.Get("Action")
	w.log(fmt.Sprintf("%s %s %s %s %s", service, region, action, form.Get("TargetDbClusterIdentifier"), form.Get("AllowDataLoss")))
	rw.Header().Set("Content-Type", "text/xml")
	if w.fault(rw, service+" "+action, true) {
		return
	}
	fail := func(code, msg string) {
		rw.WriteHeader(400)
		fmt.Fprintf(rw, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, code, msg)
	}
	switch action {
	case "AssumeRole":
		w.log("sts " + region + " AssumeRole DurationSeconds=" + form.Get("DurationSeconds"))
		fmt.Fprintf(rw, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111111111111:assumed-role/payment-dr-automation-dev/drctl</Arn><AssumedRoleId>AROA:drctl</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	case "GetCallerIdentity":
		fmt.Fprint(rw, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::111111111111:assumed-role/payment-dr-automation-dev/drctl</Arn><UserId>AROA:drctl</UserId><Account>111111111111</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	case "SimulatePrincipalPolicy":
		w.simulate(rw, form)
	case "DescribeGlobalClusters":
		w.describeGlobal(rw, form, fail)
	case "DescribeDBClusters":
		if id := form.Get("DBClusterIdentifier"); !strings.Contains(id, ":") {
			w.describeByID(rw, id, region, fail)
			return
		}
		arn := form.Get("DBClusterIdentifier")
		r := strings.Split(arn, ":")[3]
		if r != region {
			fail("DBClusterNotFoundFault", "cluster "+arn+" asked in "+region)
			return
		}
		instances := fmt.Sprintf(`<DBClusterMember><DBInstanceIdentifier>payments-%s-dev-1</DBInstanceIdentifier><IsClusterWriter>%v</IsClusterWriter></DBClusterMember>`, r, r == w.writer)
		if r == w.headless {
			instances = ""
		}
		fmt.Fprintf(rw, `<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBClustersResult><DBClusters><DBCluster><DBClusterIdentifier>payments-%[1]s-dev</DBClusterIdentifier><Status>available</Status><EngineVersion>8.0.mysql_aurora.3.05.2</EngineVersion><Endpoint>payments-%[1]s-dev.cluster-abc.%[1]s.rds.amazonaws.com</Endpoint><DBClusterMembers>%[2]s</DBClusterMembers></DBCluster></DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>`, r, instances)
	case "RestoreDBClusterFromSnapshot", "CreateDBInstance", "EnableHttpEndpoint", "DeleteDBInstance", "DeleteDBCluster":
		w.log(fmt.Sprintf("restore %s %s %s%s%s %s %s", region, action, form.Get("DBClusterIdentifier"), form.Get("DBInstanceIdentifier"), form.Get("ResourceArn"), form.Get("SnapshotIdentifier"), form.Get("DBSubnetGroupName")))
		if code, msg := w.restoreStep(action, form); code != "" {
			fail(code, msg)
			return
		}
		fmt.Fprintf(rw, `<%[1]sResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><%[1]sResult></%[1]sResult></%[1]sResponse>`, action)
	case "DescribeDBInstances":
		w.describeInstance(rw, form.Get("DBInstanceIdentifier"), region, fail)
	case "DescribeDBClusterSnapshots":
		w.describeSnapshots(rw, form, fail)
	case "CopyDBClusterSnapshot":
		w.log("copy " + form.Get("SourceDBClusterSnapshotIdentifier") + " -> " + form.Get("TargetDBClusterSnapshotIdentifier"))
		fmt.Fprint(rw, `<CopyDBClusterSnapshotResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><CopyDBClusterSnapshotResult><DBClusterSnapshot><Status>creating</Status></DBClusterSnapshot></CopyDBClusterSnapshotResult></CopyDBClusterSnapshotResponse>`)
	case "SwitchoverGlobalCluster", "FailoverGlobalCluster":
		target := strings.Split(form.Get("TargetDbClusterIdentifier"), ":")[3]
		if target != region {
			fail("InvalidParameterValue", "sent to "+region+" for "+target)
			return
		}
		if w.pending != "" || w.writer == target {
			fail("InvalidGlobalClusterStateFault", "not now")
			return
		}
		w.pending, w.polls = target, 2
		fmt.Fprintf(rw, `<%[1]sResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><%[1]sResult><GlobalCluster><GlobalClusterIdentifier>payments-global-dev</GlobalClusterIdentifier><Status>switching-over</Status></GlobalCluster></%[1]sResult></%[1]sResponse>`, action)
	default:
		fail("InvalidAction", action)
	}
}

// health plays the payment API's GET /health on every name: the
// Regional names answer for their Region, the failover name for the
// Region Route 53 would choose.
func (w *sdkWorld) health(rw http.ResponseWriter, r *http.Request) {
	host := strings.Split(r.Host, ":")[0]
	if strings.HasPrefix(host, "api-us-east-1.") && w.hung(r, "us-east-1", "GET "+host) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	region := "us-east-1"
	switch {
	case strings.HasPrefix(host, "api-us-west-2."):
		region = "us-west-2"
	case strings.HasPrefix(host, "api-us-east-1."):
	case host == "api.payment-dev.example.com":
		if !w.writable("us-east-1") && w.writable("us-west-2") {
			region = "us-west-2"
		}
	default:
		rw.WriteHeader(404)
		return
	}
	w.log("GET " + host + r.URL.Path)
	ok := w.writable(region)
	if !ok {
		rw.WriteHeader(503)
	}
	json.NewEncoder(rw).Encode(map[string]any{"region": region, "dbWritable": ok, "tableReachable": true, "status": map[bool]string{true: "ok", false: "unavailable"}[ok]})
}

func (w *sdkWorld) sent(prefix string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, r := range w.requests {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func testConfig() config.Config {
	cfg := config.Default()
	cfg.Environment, cfg.DomainName, cfg.AlarmEmail = "dev", "example.com", "a@example.com"
	return cfg
}

// startWorld serves the world and returns an AWS whose SDK clients and
// HTTPS client reach only it.
func startWorld(t *testing.T, now time.Time) (*AWS, *sdkWorld) {
	return startWorldWith(t, now, func(*aws.Config) {})
}

// startWorldWith lets a test change the SDK configuration (home Region,
// bounds) before the clients are built.
func startWorldWith(t *testing.T, now time.Time, tune func(*aws.Config)) (*AWS, *sdkWorld) {
	t.Helper()
	w := newSDKWorld()
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	api := httptest.NewTLSServer(http.HandlerFunc(w.health))
	t.Cleanup(api.Close)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	tune(&cfg)
	a := New(testConfig(), cfg)
	pool := x509.NewCertPool()
	pool.AddCert(api.Certificate())
	tr := api.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", api.Listener.Addr().String())
	}
	// The test certificate is issued to example.com; verify it as such.
	tr.TLSClientConfig.ServerName = "example.com"
	tr.TLSClientConfig.RootCAs = pool
	a.HTTP = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	a.Now = func() time.Time { return now }
	// The zone's authoritative server: the failover name answers with the
	// address of the Region Route 53 would choose.
	zone := &dnstest.Zone{Lookup: w.dnsAnswer}
	dnstest.StartZone(t, zone)
	a.DNS.Servers = []string{zone.Addr}
	return a, w
}

var regionIP = map[string]string{"us-east-1": "192.0.2.10", "us-west-2": "198.51.100.20"}

func (w *sdkWorld) dnsAnswer(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log("dns " + name)
	switch name {
	case "api-us-east-1.payment-dev.example.com.":
		return regionIP["us-east-1"]
	case "api-us-west-2.payment-dev.example.com.":
		return regionIP["us-west-2"]
	case "api.payment-dev.example.com.":
		if !w.writable("us-east-1") && w.writable("us-west-2") {
			return regionIP["us-west-2"]
		}
		return regionIP["us-east-1"]
	}
	return ""
}

var now = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)

func TestCleanSwitchoverThroughTheSDK(t *testing.T) {
	a, w := startWorld(t, now)
	c := &dr.Controller{Cfg: testConfig(), Cloud: a, Poll: time.Millisecond}
	run, err := runlog.Create(t.TempDir(), runlog.Run{ID: "switchover-20261125T040000Z-us-west-2", Kind: "switchover", Target: "us-west-2", Env: "dev", Created: now})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := plan.Execute(context.Background(), c.Switchover("us-west-2"), run, nil, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if w.writer != "us-west-2" {
		t.Fatalf("writer %s", w.writer)
	}
	// The switchover went to the target Region's RDS endpoint, naming the
	// target cluster's ARN, without AllowDataLoss.
	if got := w.sent("rds us-west-2 SwitchoverGlobalCluster"); len(got) != 1 || got[0] != "rds us-west-2 SwitchoverGlobalCluster arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev " {
		t.Errorf("switchover requests %q", got)
	}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		if w.params[r]["/payment/dev/dr/active-region"] != "us-west-2" || w.params[r]["/payment/dev/dr/writer-endpoint"] != "payments-us-west-2-dev.cluster-abc.us-west-2.rds.amazonaws.com" {
			t.Errorf("%s parameters %v", r, w.params[r])
		}
	}
	// The lag was read from the secondary's AuroraGlobalDBRPOLag (Aurora
	// MySQL 3.05), DNS was verified through the failover name.
	if got := w.sent("cloudwatch us-west-2 AuroraGlobalDBRPOLag DBClusterIdentifier=payments-us-west-2-dev true"); len(got) == 0 {
		t.Errorf("lag not read: %q", w.sent("cloudwatch"))
	}
	if len(w.sent("GET api.payment-dev.example.com/health")) == 0 || len(w.sent("GET api-us-west-2.payment-dev.example.com/health")) == 0 {
		t.Errorf("health not probed: %q", w.sent("GET"))
	}
}

func TestFailoverWithLagThroughTheSDK(t *testing.T) {
	a, w := startWorld(t, now)
	w.lagMs = 4200
	c := &dr.Controller{Cfg: testConfig(), Cloud: a, Poll: time.Millisecond}
	run, err := runlog.Create(t.TempDir(), runlog.Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Target: "us-west-2", Env: "dev", Created: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Execute(context.Background(), c.Failover("us-west-2", true), run, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if run.Values["lagAtFailoverMs"] != "4200" {
		t.Errorf("lag at failover %v", run.Values)
	}
	if got := w.sent("rds us-west-2 FailoverGlobalCluster"); len(got) != 1 || !strings.HasSuffix(got[0], " true") {
		t.Errorf("failover requests %q", got)
	}
}

func TestEvaluateThroughTheSDKFindsMissingPermissionAndMore(t *testing.T) {
	a, w := startWorld(t, now)
	zero := 0
	w.reserved = &zero
	w.headless = "us-west-2"
	w.denied["rds:FailoverGlobalCluster arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev"] = true
	w.params["us-west-2"]["/payment/dev/dr/active-region"] = "us-west-2"
	c := &dr.Controller{Cfg: testConfig(), Cloud: a, Clock: fixed(now), Poll: time.Millisecond}
	got := map[string][]string{}
	for _, f := range c.Evaluate(context.Background()) {
		got[f.Check] = append(got[f.Check], f.Problem)
	}
	want := map[string]string{
		"permissions":             "denied: rds:FailoverGlobalCluster on arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev",
		"standby-capacity":        "no DB instance (headless)",
		"failover-records":        "PRIMARY record of api.payment-dev.example.com has no health check",
		"active-region-parameter": "us-west-2 says us-west-2 but the writer is in us-east-1; fix: drctl rejoin --region us-west-2",
		// Both functions are at 0 in this world: the writer's too.
		"fence": "the writer's Region us-east-1 is fenced",
	}
	for check, text := range want {
		if !strings.Contains(strings.Join(got[check], "; "), text) {
			t.Errorf("%s: %q lacks %q", check, got[check], text)
		}
	}
	if strings.Contains(strings.Join(got["permissions"], ";"), "kms:Decrypt") {
		t.Errorf("the conditioned kms:Decrypt statement was simulated without its context: %q", got["permissions"])
	}
	if !strings.Contains(strings.Join(got["standby-capacity"], ";"), "reserved concurrency 0") {
		t.Errorf("zero concurrency not found: %q", got["standby-capacity"])
	}
	if len(got) != len(want) {
		t.Errorf("unexpected findings: %v", got)
	}
	// The simulation ran for the role behind the assumed-role session.
	if w.simulated != "arn:aws:iam::111111111111:role/payment-dr-automation-dev" {
		t.Errorf("simulated %q", w.simulated)
	}
	// Backups: the newest COMPLETED point (03:00) is 1 h old at 04:00.
	w.reserved, w.headless, w.denied = nil, "", map[string]bool{}
	w.params["us-west-2"]["/payment/dev/dr/active-region"] = "us-east-1"
	s := c.Status(context.Background())
	if s.Primary != "us-east-1" || *s.Regions[0].BackupAgeHours != 1 || s.Regions[1].TableReplica != "UPDATING" || *s.Regions[1].ReplicationLagMs != 900 || *s.Regions[0].TableLatencyMs != 250 {
		t.Errorf("status %+v", s)
	}
}

type fixed time.Time

func (f fixed) Now() time.Time { return time.Time(f) }

func TestJournalMirrorThroughTheSDK(t *testing.T) {
	a, w := startWorld(t, now)
	m := a.JournalMirror("us-west-2")
	if _, err := m.Get(context.Background(), "drill-20261125T040000Z-us-west-2"); !errors.Is(err, runlog.ErrNotFound) {
		t.Fatalf("missing item: %v", err)
	}
	if err := m.Put(context.Background(), "drill-20261125T040000Z-us-west-2", []byte(`{"id":"x","version":1}`)); err != nil {
		t.Fatal(err)
	}
	b, err := m.Get(context.Background(), "drill-20261125T040000Z-us-west-2")
	if err != nil || string(b) != `{"id":"x","version":1}` {
		t.Fatalf("%s %v", b, err)
	}
	item := w.items["drctl-run#drill-20261125T040000Z-us-west-2"]
	if item == nil || item["expiresAt"].(map[string]any)["N"] != fmt.Sprint(now.Add(90*24*time.Hour).Unix()) {
		t.Errorf("item %v", item)
	}
	if got := w.sent("dynamodb us-west-2 PutItem payment-sessions-dev"); len(got) != 1 {
		t.Errorf("put not sent to the target Region first: %q", w.sent("dynamodb"))
	}
}

func TestMoveInProgressIsReadFromFailoverState(t *testing.T) {
	a, w := startWorld(t, now)
	w.pending, w.polls = "us-west-2", 5
	g, err := a.GlobalCluster(context.Background())
	if err != nil || g.MovingTo() != "us-west-2" || g.Writer() != "us-east-1" || g.Status != "switching-over" {
		t.Fatalf("%+v %v", g, err)
	}
}

// describeByID answers DescribeDBClusters by identifier: the old primary's
// cluster (its network, for the restore) or the temporary one.
func (w *sdkWorld) describeByID(rw http.ResponseWriter, id, region string, fail func(code, msg string)) {
	const head = `<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBClustersResult><DBClusters><DBCluster>`
	const tail = `</DBCluster></DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>`
	switch {
	case id == "payments-"+region+"-dev":
		fmt.Fprintf(rw, head+`<DBClusterIdentifier>%s</DBClusterIdentifier><Engine>aurora-mysql</Engine><EngineVersion>8.0.mysql_aurora.3.05.2</EngineVersion><DBSubnetGroup>payments-%s-dev</DBSubnetGroup><KmsKeyId>key-1</KmsKeyId><VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-db</VpcSecurityGroupId></VpcSecurityGroupMembership></VpcSecurityGroups><Status>available</Status>`+tail, id, region)
	case id == "payments-"+region+"-dev-reconcile" && w.restored >= 0:
		status := "creating"
		if w.restored--; w.restored <= 0 {
			status, w.restored = "available", 0
		}
		fmt.Fprintf(rw, head+`<DBClusterIdentifier>%[1]s</DBClusterIdentifier><DBClusterArn>arn:aws:rds:%[2]s:111111111111:cluster:%[1]s</DBClusterArn><Status>%[3]s</Status><TagList><Tag><Key>payment-dr:snapshot</Key><Value>%[4]s</Value></Tag></TagList>`+tail, id, region, status, w.restoredFrom)
	default:
		fail("DBClusterNotFoundFault", id)
	}
}

// describeSnapshots answers one page of w.snapshots, as RDS pages
// DescribeDBClusterSnapshots: at most MaxRecords (default and maximum
// 100, minimum 20) and, when more remain, a Marker to ask for the rest
// with (RDS API Reference, DescribeDBClusterSnapshots).
func (w *sdkWorld) describeSnapshots(rw http.ResponseWriter, form url.Values, fail func(code, msg string)) {
	items := strings.SplitAfter(w.snapshots, "</DBClusterSnapshot>")
	items = items[:len(items)-1] // what follows the last one: ""
	size, start := 100, 0
	if m := form.Get("MaxRecords"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 20 || n > 100 {
			fail("InvalidParameterValue", "MaxRecords "+m)
			return
		}
		size = n
	}
	if m := form.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(items) {
			fail("InvalidParameterValue", "Marker "+m)
			return
		}
		start = n
	}
	end := min(start+size, len(items))
	marker := ""
	if end < len(items) {
		marker = fmt.Sprintf("<Marker>%d</Marker>", end)
	}
	w.log(fmt.Sprintf("snapshots page from %d: %d of %d", start, end-start, len(items)))
	fmt.Fprintf(rw, `<DescribeDBClusterSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBClusterSnapshotsResult>%s<DBClusterSnapshots>%s</DBClusterSnapshots></DescribeDBClusterSnapshotsResult></DescribeDBClusterSnapshotsResponse>`,
		marker, strings.Join(items[start:end], ""))
}

// restoreStep plays the temporary cluster's life as the RDS API
// Reference documents it: RestoreDBClusterFromSnapshot onto an existing
// identifier is DBClusterAlreadyExistsFault; it creates no instance, and
// "you can create DB instances only after the RestoreDBClusterFromSnapshot
// operation has completed and the DB cluster is available"
// (RestoreDBClusterFromSnapshot), CreateDBInstance answering
// InvalidDBClusterStateFault before then (CreateDBInstance, Errors).
func (w *sdkWorld) restoreStep(action string, form url.Values) (code, msg string) {
	switch action {
	case "RestoreDBClusterFromSnapshot":
		if w.restored >= 0 {
			return "DBClusterAlreadyExistsFault", "DB cluster already exists"
		}
		w.restored, w.restoredFrom = 2, form.Get("SnapshotIdentifier")
	case "CreateDBInstance":
		switch {
		case w.restored != 0:
			return "InvalidDBClusterStateFault", "DB cluster " + form.Get("DBClusterIdentifier") + " is not available"
		case w.instance >= 0:
			return "DBInstanceAlreadyExists", "DB instance already exists"
		}
		w.instance = 2
	case "EnableHttpEndpoint":
		if w.failEnable > 0 {
			w.failEnable--
			return "InvalidDBClusterStateFault", "the cluster is being modified"
		}
	case "DeleteDBInstance":
		w.instance = -1
	case "DeleteDBCluster":
		w.restored = -1
	}
	return "", ""
}

// describeInstance answers DescribeDBInstances for the temporary
// cluster's instance: creating, then available.
func (w *sdkWorld) describeInstance(rw http.ResponseWriter, id, region string, fail func(code, msg string)) {
	if id != "payments-"+region+"-dev-reconcile-1" || w.instance < 0 {
		fail("DBInstanceNotFound", id)
		return
	}
	status := "creating"
	if w.instance--; w.instance <= 0 {
		status, w.instance = "available", 0
	}
	w.log("describe-instance " + id + " " + status)
	fmt.Fprintf(rw, `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>%s</DBInstanceIdentifier><DBInstanceStatus>%s</DBInstanceStatus></DBInstance></DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>`, id, status)
}

func (w *sdkWorld) simulate(rw http.ResponseWriter, form url.Values) {
	w.simulated = form.Get("PolicySourceArn")
	var results strings.Builder
	for i := 1; form.Get(fmt.Sprintf("ActionNames.member.%d", i)) != ""; i++ {
		action := form.Get(fmt.Sprintf("ActionNames.member.%d", i))
		overall := "allowed"
		var per strings.Builder
		for j := 1; form.Get(fmt.Sprintf("ResourceArns.member.%d", j)) != ""; j++ {
			res := form.Get(fmt.Sprintf("ResourceArns.member.%d", j))
			d := "allowed"
			// A conditioned statement (kms:ViaService) is allowed only
			// with its context key, as IAM evaluates it.
			if action == "kms:Decrypt" && form.Get("ContextEntries.member.1.ContextKeyName") != "kms:ViaService" {
				d, overall = "implicitDeny", "implicitDeny"
			}
			if w.denied[action+" "+res] {
				d, overall = "implicitDeny", "implicitDeny"
			}
			fmt.Fprintf(&per, `<member><EvalResourceName>%s</EvalResourceName><EvalResourceDecision>%s</EvalResourceDecision></member>`, res, d)
		}
		fmt.Fprintf(&results, `<member><EvalActionName>%s</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>%s</EvalDecision><ResourceSpecificResults>%s</ResourceSpecificResults></member>`, action, overall, per.String())
	}
	fmt.Fprintf(rw, `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>%s</EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>`, results.String())
}

func (w *sdkWorld) describeGlobal(rw http.ResponseWriter, form url.Values, fail func(code, msg string)) {
	if form.Get("GlobalClusterIdentifier") != "payments-global-dev" {
		fail("GlobalClusterNotFoundFault", "no such global cluster")
		return
	}
	status := "available"
	if w.pending != "" {
		status = "switching-over"
		if w.polls--; w.polls <= 0 {
			w.writer, w.pending, status = w.pending, "", "available"
		}
	}
	var members string
	for _, r := range []string{"us-east-1", "us-west-2"} {
		members += fmt.Sprintf(`<GlobalClusterMember><DBClusterArn>arn:aws:rds:%s:111111111111:cluster:payments-%s-dev</DBClusterArn><IsWriter>%v</IsWriter></GlobalClusterMember>`, r, r, r == w.writer)
	}
	state := ""
	if w.pending != "" {
		state = fmt.Sprintf(`<FailoverState><Status>switching-over</Status><FromDbClusterArn>arn:aws:rds:%[1]s:111111111111:cluster:payments-%[1]s-dev</FromDbClusterArn><ToDbClusterArn>arn:aws:rds:%[2]s:111111111111:cluster:payments-%[2]s-dev</ToDbClusterArn></FailoverState>`, w.writer, w.pending)
	}
	fmt.Fprintf(rw, `<DescribeGlobalClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeGlobalClustersResult><GlobalClusters><GlobalClusterMember><GlobalClusterIdentifier>payments-global-dev</GlobalClusterIdentifier><Status>%s</Status>%s<GlobalClusterMembers>%s</GlobalClusterMembers></GlobalClusterMember></GlobalClusters></DescribeGlobalClustersResult></DescribeGlobalClustersResponse>`, status, state, members)
}
