package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/payment-dr/payment-dr/internal/config"
)

// fakeAWS answers like RDS (query protocol, XML), SSM (JSON 1.1) and
// Route 53 (REST XML) on one loopback endpoint, so the SDK's real
// serializers and deserializers are exercised.
type fakeAWS struct {
	mu       sync.Mutex
	writer   string
	requests []string
	params   map[string]string
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/2013-04-01/healthcheck/"):
		f.requests = append(f.requests, "route53 "+r.URL.Path)
		status := "Success: HTTP Status Code 200, OK"
		if strings.Contains(r.URL.Path, "hc-west") {
			status = "Failure: HTTP Status Code 503, Service Unavailable"
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetHealthCheckStatusResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HealthCheckObservations>
<HealthCheckObservation><Region>us-east-1</Region><IPAddress>1.2.3.4</IPAddress><StatusReport><Status>%[1]s</Status></StatusReport></HealthCheckObservation>
<HealthCheckObservation><Region>eu-west-1</Region><IPAddress>1.2.3.5</IPAddress><StatusReport><Status>%[1]s</Status></StatusReport></HealthCheckObservation>
</HealthCheckObservations></GetHealthCheckStatusResponse>`, status)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM."):
		var in struct{ Name, Value string }
		_ = json.Unmarshal(body, &in)
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
		f.requests = append(f.requests, "ssm "+op+" "+in.Name)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if op == "PutParameter" {
			f.params[in.Name] = in.Value
			io.WriteString(w, `{"Version":2}`)
			return
		}
		v, ok := f.params[in.Name]
		if !ok {
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"ParameterNotFound","message":"not found"}`)
			return
		}
		fmt.Fprintf(w, `{"Parameter":{"Name":%q,"Value":%q,"Type":"String"}}`, in.Name, v)
	default: // RDS query protocol
		form, _ := url.ParseQuery(string(body))
		action := form.Get("Action")
		f.requests = append(f.requests, "rds "+action+" "+form.Get("TargetDbClusterIdentifier")+" allowDataLoss="+form.Get("AllowDataLoss"))
		w.Header().Set("Content-Type", "text/xml")
		switch action {
		case "DescribeGlobalClusters":
			member := func(region string) string {
				return fmt.Sprintf(`<GlobalClusterMember><DBClusterArn>arn:aws:rds:%s:111111111111:cluster:payments-%s-dev</DBClusterArn><IsWriter>%v</IsWriter></GlobalClusterMember>`, region, region, region == f.writer)
			}
			fmt.Fprintf(w, `<DescribeGlobalClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeGlobalClustersResult><GlobalClusters>
<GlobalClusterMember><GlobalClusterIdentifier>payments-global-dev</GlobalClusterIdentifier><Status>available</Status><GlobalClusterMembers>%s%s</GlobalClusterMembers></GlobalClusterMember>
</GlobalClusters></DescribeGlobalClustersResult></DescribeGlobalClustersResponse>`, member("us-east-1"), member("us-west-2"))
		case "DescribeDBClusters":
			id := form.Get("DBClusterIdentifier")
			region := strings.Split(id, ":")[3]
			fmt.Fprintf(w, `<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters><DBCluster><DBClusterIdentifier>payments-%s-dev</DBClusterIdentifier><Status>available</Status><Endpoint>payments-%s-dev.cluster-abc.%s.rds.amazonaws.com</Endpoint></DBCluster></DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>`, region, region, region)
		case "SwitchoverGlobalCluster", "FailoverGlobalCluster":
			f.writer = strings.Split(form.Get("TargetDbClusterIdentifier"), ":")[3]
			fmt.Fprintf(w, `<%sResponse><%sResult><GlobalCluster><GlobalClusterIdentifier>payments-global-dev</GlobalClusterIdentifier><Status>switching-over</Status></GlobalCluster></%sResult></%sResponse>`, action, action, action, action)
		default:
			w.WriteHeader(400)
			fmt.Fprintf(w, `<ErrorResponse><Error><Code>InvalidAction</Code><Message>%s</Message></Error></ErrorResponse>`, action)
		}
	}
}

func newTestAWS(t *testing.T) (*AWS, *fakeAWS) {
	f := &fakeAWS{writer: "us-east-1", params: map[string]string{"/payment/dev/dr/health-check/us-east-1": "hc-east", "/payment/dev/dr/health-check/us-west-2": "hc-west"}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := config.Default()
	cfg.Environment, cfg.DomainName, cfg.AlarmEmail = "dev", "example.com", "a@example.com"
	return New(cfg, aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}), f
}

func TestGlobalClusterAndSwitchoverThroughTheSDK(t *testing.T) {
	a, f := newTestAWS(t)
	ctx := context.Background()
	g, err := a.GlobalCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != "payments-global-dev" || g.Writer() != "us-east-1" || len(g.Members) != 2 || g.Members[1].Status != "available" ||
		g.Members[1].Endpoint != "payments-us-west-2-dev.cluster-abc.us-west-2.rds.amazonaws.com" {
		t.Fatalf("%+v", g)
	}
	if err := a.Switchover(ctx, "us-west-2"); err != nil {
		t.Fatal(err)
	}
	if g, _ := a.GlobalCluster(ctx); g.Writer() != "us-west-2" {
		t.Errorf("writer after switchover: %s", g.Writer())
	}
	if err := a.Failover(ctx, "us-east-1", true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rds SwitchoverGlobalCluster arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev allowDataLoss=",
		"rds FailoverGlobalCluster arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-dev allowDataLoss=true",
	}
	got := strings.Join(f.requests, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("request %q not sent; sent:\n%s", w, got)
		}
	}
}

func TestParametersAndHealthChecksThroughTheSDK(t *testing.T) {
	a, _ := newTestAWS(t)
	ctx := context.Background()
	if err := a.PutParameter(ctx, "us-west-2", "/payment/dev/dr/active-region", "us-west-2"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Parameter(ctx, "us-west-2", "/payment/dev/dr/active-region"); err != nil || v != "us-west-2" {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := a.Parameter(ctx, "us-east-1", "/nope"); err == nil || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Errorf("missing parameter: %v", err)
	}
	east, err := a.HealthCheckHealthy(ctx, "us-east-1")
	west, err2 := a.HealthCheckHealthy(ctx, "us-west-2")
	if err != nil || err2 != nil || !east || west {
		t.Errorf("east %v west %v (%v %v)", east, west, err, err2)
	}
}

func TestPrincipalARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::111111111111:assumed-role/payment-dr-automation-dev/alice": "arn:aws:iam::111111111111:role/payment-dr-automation-dev",
		"arn:aws:iam::111111111111:user/bob":                                     "arn:aws:iam::111111111111:user/bob",
		"garbage":                                                                "garbage",
	} {
		if got := PrincipalARN(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}
