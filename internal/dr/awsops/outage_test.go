package awsops

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// With every us-east-1 endpoint accepting and never answering,
// an unplanned failover to us-west-2 completes: reads go to us-west-2
// first, every call has a per-attempt timeout, DNS is verified on the
// data plane (the zone's authoritative server), Route 53's API is never
// called.
func TestFailoverCompletesWithEveryUsEast1EndpointHanging(t *testing.T) {
	a, w := startWorldWith(t, now, func(c *aws.Config) {
		c.Region = "us-west-2" // the run's target: drctl connects with --to
		*c = Bounded(*c, 150*time.Millisecond, 20*time.Millisecond)
	})
	w.hang["us-east-1"] = true
	c := &dr.Controller{Cfg: testConfig(), Cloud: a, Poll: time.Millisecond}
	run, err := runlog.Create(t.TempDir(), runlog.Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Target: "us-west-2", Env: "dev", Created: now})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := plan.Execute(ctx, c.Failover("us-west-2", true), run, nil, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if w.writer != "us-west-2" || !run.Completed {
		t.Fatalf("writer %s, completed %v", w.writer, run.Completed)
	}
	var first string
	for _, r := range w.sent("") {
		if strings.HasPrefix(r, "rds ") || strings.HasPrefix(r, "hung ") {
			first = r
			break
		}
	}
	if !strings.HasPrefix(first, "rds us-west-2 DescribeGlobalClusters") {
		t.Errorf("first RDS request %q, want DescribeGlobalClusters in us-west-2", first)
	}
	if got := w.sent("rds us-east-1 DescribeGlobalClusters"); len(got) != 0 {
		t.Errorf("the global cluster was read in us-east-1: %q", got)
	}
	if got := w.sent("route53"); len(got) != 0 {
		t.Errorf("Route 53's control plane was called: %q", got)
	}
	if len(w.sent("dns api.payment-dev.example.com.")) == 0 {
		t.Error("DNS not verified on the authoritative server")
	}
	// Each hung call was tried Attempts times, each attempt cut short.
	if n := len(w.sent("hung us-east-1 lambda")); n != Attempts {
		t.Errorf("fence attempts %d, want %d", n, Attempts)
	}
	if !strings.HasPrefix(run.Values["fence"], "not fenced") || !strings.HasPrefix(run.Values[dr.OldPrimaryDataKey], "pending") {
		t.Errorf("values %v", run.Values)
	}
	if w.params["us-west-2"]["/payment/dev/dr/active-region"] != "us-west-2" {
		t.Errorf("us-west-2 parameters %v", w.params["us-west-2"])
	}
}

// The DR role is assumed through the target Region's
// regional STS endpoint, for an hour.
func TestAssumeRoleUsesTheTargetRegionsSTSForAnHour(t *testing.T) {
	w := newSDKWorld()
	w.hang["us-east-1"] = true
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBASE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := LoadConfig(context.Background(), "us-west-2", "arn:aws:iam::111111111111:role/payment-dr-automation-dev", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := New(testConfig(), cfg)
	w.params["us-west-2"]["/payment/dev/dr/active-region"] = "us-west-2"
	if v, err := a.Parameter(context.Background(), "us-west-2", "/payment/dev/dr/active-region"); err != nil || v != "us-west-2" {
		t.Fatalf("%q %v", v, err)
	}
	if got := w.sent("sts us-west-2 AssumeRole DurationSeconds="); len(got) != 1 || got[0] != "sts us-west-2 AssumeRole DurationSeconds=3600" || len(w.sent("hung us-east-1 sts")) != 0 {
		t.Errorf("STS requests %q", got)
	}
}
