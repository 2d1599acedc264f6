package awsops

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

func snapshotXML(id, created string) string {
	return fmt.Sprintf(`<DBClusterSnapshot><DBClusterSnapshotIdentifier>%s</DBClusterSnapshotIdentifier><DBClusterIdentifier>payments-us-east-1-dev</DBClusterIdentifier><SnapshotCreateTime>%s</SnapshotCreateTime><SnapshotType>automated</SnapshotType><Status>available</Status></DBClusterSnapshot>`, id, created)
}

// The newest unplanned-failover snapshot of the old primary is
// copied to a manual snapshot, once.
func TestKeepOldPrimaryDataCopiesTheUnplannedFailoverSnapshot(t *testing.T) {
	a, w := startWorld(t, now)
	ctx := context.Background()
	if _, err := a.KeepOldPrimaryData(ctx, "us-east-1"); err == nil || !strings.Contains(err.Error(), "no rds:unplanned-global-failover-payments-us-east-1-dev") {
		t.Fatalf("without a snapshot: %v", err)
	}
	w.snapshots = snapshotXML("rds:payments-us-east-1-dev-2026-11-24-03-00", "2026-11-24T03:00:00Z") +
		snapshotXML("rds:unplanned-global-failover-payments-us-east-1-dev-2026-11-25-04-10", "2026-11-25T04:10:00Z") +
		snapshotXML("rds:unplanned-global-failover-payments-us-east-1-dev-2026-11-20-01-00", "2026-11-20T01:00:00Z")
	ref, err := a.KeepOldPrimaryData(ctx, "us-east-1")
	if err != nil || ref != "payments-us-east-1-dev-lost-writes-20261125t041000z" {
		t.Fatalf("%q %v", ref, err)
	}
	if got := w.sent("copy "); len(got) != 1 || got[0] != "copy rds:unplanned-global-failover-payments-us-east-1-dev-2026-11-25-04-10 -> "+ref {
		t.Errorf("copies %q", got)
	}
	// Kept already: not copied again.
	w.snapshots += snapshotXML(ref, "2026-11-25T05:00:00Z")
	if again, err := a.KeepOldPrimaryData(ctx, "us-east-1"); err != nil || again != ref || len(w.sent("copy ")) != 1 {
		t.Errorf("second keep: %q %v %q", again, err, w.sent("copy "))
	}
	if got := w.sent("rds us-west-2 DescribeDBClusterSnapshots"); len(got) != 0 {
		t.Errorf("snapshots looked up in the wrong Region: %q", got)
	}
}

// RDS answers at most 100 snapshots a call (RDS API Reference,
// DescribeDBClusterSnapshots): the newest unplanned-failover snapshot and
// an earlier kept copy on a later page are found all the same.
func TestKeepOldPrimaryDataReadsEveryPageOfSnapshots(t *testing.T) {
	a, w := startWorld(t, now)
	ctx := context.Background()
	day := time.Date(2026, 8, 1, 3, 0, 0, 0, time.UTC)
	w.snapshots = snapshotXML("rds:unplanned-global-failover-payments-us-east-1-dev-2026-07-01-01-00", "2026-07-01T01:00:00Z")
	for i := 0; i < 110; i++ { // a page and then some of older kept copies and automated snapshots
		d := day.AddDate(0, 0, i/2)
		id := "rds:payments-us-east-1-dev-" + d.Format("2006-01-02-15-04")
		if i%2 == 1 {
			id = "payments-us-east-1-dev-lost-writes-" + strings.ToLower(d.Format("20060102T150405Z"))
		}
		w.snapshots += snapshotXML(id, d.Format(time.RFC3339))
	}
	w.snapshots += snapshotXML("rds:unplanned-global-failover-payments-us-east-1-dev-2026-11-25-04-10", "2026-11-25T04:10:00Z")
	ref, err := a.KeepOldPrimaryData(ctx, "us-east-1")
	if err != nil || ref != "payments-us-east-1-dev-lost-writes-20261125t041000z" {
		t.Fatalf("%q %v (requests %q)", ref, err, w.sent("snapshots page"))
	}
	// Count pages, not requests: the SDK's standard retryer sends a read
	// again when the transport closed its connection under the answer
	// (it counts net.ErrClosed as retryable), which a loaded machine
	// meets now and then.
	if pages := distinct(w.sent("snapshots page")); len(pages) != 2 {
		t.Errorf("pages read: %q", pages)
	}
	// The copy made now lands on the second page too: not copied again.
	w.snapshots += snapshotXML(ref, "2026-11-25T05:00:00Z")
	if again, err := a.KeepOldPrimaryData(ctx, "us-east-1"); err != nil || again != ref || len(w.sent("copy ")) != 1 {
		t.Errorf("second keep: %q %v %q", again, err, w.sent("copy "))
	}
}

func distinct(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Fencing sets the old Region's payment Lambda's reserved
// concurrency to 0; unfencing deletes it.
func TestFenceAndUnfenceThroughTheSDK(t *testing.T) {
	a, w := startWorld(t, now)
	if err := a.FenceWrites(context.Background(), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if err := a.UnfenceWrites(context.Background(), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	got := w.sent("lambda us-east-1 PUT ")
	got = append(got, w.sent("lambda us-east-1 DELETE ")...)
	if len(got) != 2 || got[0] != `lambda us-east-1 PUT /2017-10-31/functions/payment-processor-us-east-1-dev/concurrency {"ReservedConcurrentExecutions":0}` ||
		!strings.HasPrefix(got[1], "lambda us-east-1 DELETE /2017-10-31/functions/payment-processor-us-east-1-dev/concurrency") {
		t.Errorf("lambda requests %q", got)
	}
}

// The fence is read back as the function's reserved concurrency: 0 after
// PutFunctionConcurrency, none (an empty answer) after
// DeleteFunctionConcurrency, per Region.
func TestWritesFencedReadsTheReservedConcurrency(t *testing.T) {
	a, w := startWorld(t, now)
	ctx := context.Background()
	fenced := func(region string) bool {
		t.Helper()
		f, err := a.WritesFenced(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if fenced("us-east-1") || fenced("us-west-2") {
		t.Fatal("fenced before any fence")
	}
	if err := a.FenceWrites(ctx, "us-west-2"); err != nil {
		t.Fatal(err)
	}
	if !fenced("us-west-2") || fenced("us-east-1") {
		t.Error("the fence of us-west-2 is not read back, or leaks to us-east-1")
	}
	if err := a.UnfenceWrites(ctx, "us-west-2"); err != nil {
		t.Fatal(err)
	}
	if fenced("us-west-2") {
		t.Error("still fenced after DeleteFunctionConcurrency")
	}
	if got := w.sent("lambda us-west-2 GET /2019-09-30/functions/payment-processor-us-west-2-dev/concurrency"); len(got) != 3 {
		t.Errorf("GetFunctionConcurrency requests %q", w.sent("lambda us-west-2 GET"))
	}
}

// Only a reservation of 0 is the fence: a function with reserved
// concurrency 50 (an operator's capacity setting) takes payments.
func TestAReservationAboveZeroIsNoFence(t *testing.T) {
	a, w := startWorld(t, now)
	fifty := 50
	w.reserved = &fifty
	if f, err := a.WritesFenced(context.Background(), "us-east-1"); err != nil || f {
		t.Errorf("reserved concurrency 50 read as fenced=%v (%v); want not fenced", f, err)
	}
}

// Route 53 calls an endpoint healthy when more than 18 % of
// its checkers do, not a majority.
func TestRoute53HealthIsAbove18Percent(t *testing.T) {
	obs := func(ok, bad int) []r53types.HealthCheckObservation {
		var out []r53types.HealthCheckObservation
		for i := 0; i < ok+bad; i++ {
			st := "Success: HTTP Status Code 200, OK"
			if i >= ok {
				st = "Failure: HTTP Status Code 503"
			}
			out = append(out, r53types.HealthCheckObservation{StatusReport: &r53types.StatusReport{Status: aws.String(st)}})
		}
		return out
	}
	for _, tc := range []struct {
		ok, bad int
		want    bool
	}{{1, 3, true}, {2, 8, true}, {1, 5, false}, {0, 3, false}, {0, 0, false}, {3, 0, true}} {
		if got := route53Healthy(obs(tc.ok, tc.bad)); got != tc.want {
			t.Errorf("%d of %d healthy: %v, want %v", tc.ok, tc.ok+tc.bad, got, tc.want)
		}
	}
}

// The RPO lag metric follows the engine version.
func TestLagMetricFollowsTheEngineVersion(t *testing.T) {
	for v, want := range map[string]string{
		"8.0.mysql_aurora.3.04.0": "AuroraGlobalDBRPOLag",
		"8.0.mysql_aurora.3.10.1": "AuroraGlobalDBRPOLag",
		"8.0.mysql_aurora.3.03.1": "AuroraGlobalDBReplicationLag",
		"5.7.mysql_aurora.2.12.1": "AuroraGlobalDBReplicationLag",
		"":                        "AuroraGlobalDBReplicationLag",
	} {
		if got := LagMetric(v); got != want {
			t.Errorf("%q: %s, want %s", v, got, want)
		}
	}
}
