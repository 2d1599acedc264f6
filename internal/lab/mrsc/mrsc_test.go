package mrsc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"go.etcd.io/etcd/server/v3/embed"
)

const (
	east, west, witness = "us-east-1", "us-west-2", "us-east-2"
	tableName           = "payment-journal-test"
)

var testTable = Table{Name: tableName, HashKey: "pk", RangeKey: "sk"}

// serveRegion serves region's endpoint until the test ends, to an SDK
// client that makes no retries.
func serveRegion(t *testing.T, c *Cluster, region string) *dynamodb.Client {
	t.Helper()
	h, err := c.Endpoint(region, testTable)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String("http://" + ln.Addr().String()),
		Credentials: credentials.NewStaticCredentialsProvider("lab", "lab", ""), RetryMaxAttempts: 1})
}

// startCluster starts a cluster and serves each Region's endpoint; the
// clients use the SDK's DynamoDB client with no retries, so each call is
// one request.
func startCluster(t *testing.T, regionLatency time.Duration) (*Cluster, map[string]*dynamodb.Client) {
	return startClusterAt(t, regionLatency, nil)
}

// startClusterAt is startCluster with the partitions' write limit on the
// clock now.
func startClusterAt(t *testing.T, regionLatency time.Duration, now func() time.Time) (*Cluster, map[string]*dynamodb.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: t.TempDir(), Regions: []string{east, west}, Witness: witness,
		RegionLatency: regionLatency, WitnessLatency: time.Millisecond, OpTimeout: 700 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	clients := map[string]*dynamodb.Client{}
	for _, r := range []string{east, west} {
		clients[r] = serveRegion(t, c, r)
	}
	return c, clients
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func claim(pk, paymentID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s("claim"), "paymentId": s(paymentID), "amount": &types.AttributeValueMemberN{Value: "12.50"}}
}

func putClaim(ctx context.Context, c *dynamodb.Client, pk, paymentID string) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: claim(pk, paymentID),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	return err
}

func getClaim(ctx context.Context, c *dynamodb.Client, pk string, consistent bool) (map[string]types.AttributeValue, error) {
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tableName), ConsistentRead: aws.Bool(consistent),
		Key: map[string]types.AttributeValue{"pk": s(pk), "sk": s("claim")}})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestConditionalWritesReadsAndDeletesThroughTheSDK(t *testing.T) {
	_, cl := startCluster(t, 5*time.Millisecond)
	ctx := context.Background()
	if err := putClaim(ctx, cl[east], "claim#a", "p1"); err != nil {
		t.Fatal(err)
	}
	// The key exists: a second claim from either Region fails its condition.
	for _, r := range []string{east, west} {
		err := retryConflicts(func() error { return putClaim(ctx, cl[r], "claim#a", "p2") })
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("second claim through %s: got %v, want ConditionalCheckFailedException", r, err)
		}
	}
	// A strongly consistent read in the other Region sees the claim at once.
	it, err := getClaim(ctx, cl[west], "claim#a", true)
	if err != nil || it["paymentId"].(*types.AttributeValueMemberS).Value != "p1" {
		t.Fatalf("consistent read in %s: %v %v", west, it, err)
	}
	// ALL_OLD on a failed condition returns the item (ReturnValuesOnConditionCheckFailure).
	_, err = cl[east].PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: claim("claim#a", "p3"),
		ConditionExpression: aws.String("attribute_not_exists(pk)"), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item["paymentId"].(*types.AttributeValueMemberS).Value != "p1" {
		t.Fatalf("ALL_OLD on a failed condition: %v", err)
	}
	del := func(paymentID string) error {
		_, err := cl[west].DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tableName),
			Key: map[string]types.AttributeValue{"pk": s("claim#a"), "sk": s("claim")}, ConditionExpression: aws.String("paymentId = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(paymentID)}})
		return retryConflicts(func() error { return err })
	}
	if err := del("p2"); !errors.As(err, &ccf) {
		t.Fatalf("delete with another payment id: got %v, want ConditionalCheckFailedException", err)
	}
	if err := del("p1"); err != nil {
		t.Fatalf("delete with the claim's payment id: %v", err)
	}
	if it, err := getClaim(ctx, cl[east], "claim#a", true); err != nil || it != nil {
		t.Fatalf("after the delete: %v %v", it, err)
	}
	_, err = cl[east].GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("no-such-table"), Key: map[string]types.AttributeValue{"pk": s("x"), "sk": s("y")}})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("unknown table: got %v, want ResourceNotFoundException", err)
	}
}

// retryConflicts retries a write that met a ReplicatedWriteConflictException
// (the claim written in the other Region had not reached this one yet).
func retryConflicts(f func() error) error {
	for range 20 {
		err := f()
		if errorCode(err) != "ReplicatedWriteConflictException" {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return f()
}

func TestQueryBetweenPagesInSortKeyOrder(t *testing.T) {
	_, cl := startCluster(t, 2*time.Millisecond)
	ctx := context.Background()
	for i := 9; i >= 0; i-- {
		_, err := cl[east].PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), ConditionExpression: aws.String("attribute_not_exists(pk)"),
			Item: map[string]types.AttributeValue{"pk": s("minute#2026-11-25T17:00"), "sk": s(fmt.Sprintf("2026-11-25T17:00:%02dZ#k%d", i, i))}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Another partition whose key starts like this one's must not leak in.
	if _, err := cl[east].PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName),
		Item: map[string]types.AttributeValue{"pk": s("minute#2026-11-25T17:00x"), "sk": s("2026-11-25T17:00:05Z#other")}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var start map[string]types.AttributeValue
	pages := 0
	for {
		out, err := cl[west].Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tableName), ConsistentRead: aws.Bool(true), Limit: aws.Int32(3),
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"), ExclusiveStartKey: start,
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("minute#2026-11-25T17:00"), ":from": s("2026-11-25T17:00:02Z"), ":to": s("2026-11-25T17:00:08Z~")}})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range out.Items {
			got = append(got, it["sk"].(*types.AttributeValueMemberS).Value)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	want := []string{}
	for i := 2; i <= 8; i++ {
		want = append(want, fmt.Sprintf("2026-11-25T17:00:%02dZ#k%d", i, i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("query pages=%d\n got  %v\n want %v", pages, got, want)
	}
}

// A Region cut off from the other Region and the witness completes no
// write and no strongly consistent read; the majority side does both;
// after the links return the isolated replica catches up.
func TestIsolatedRegionFailsWritesAndStrongReadsWhileTheMajorityServes(t *testing.T) {
	c, cl := startCluster(t, 5*time.Millisecond)
	ctx := context.Background()
	if err := putClaim(ctx, cl[east], "claim#before", "p0"); err != nil {
		t.Fatal(err)
	}
	if err := c.Isolate(east); err != nil {
		t.Fatal(err)
	}
	err := putClaim(ctx, cl[east], "claim#isolated", "p1")
	if errorCode(err) != "InternalServerError" {
		t.Fatalf("write in the isolated Region: got %v, want InternalServerError", err)
	}
	if _, err := getClaim(ctx, cl[east], "claim#before", true); errorCode(err) != "InternalServerError" {
		t.Fatalf("strongly consistent read in the isolated Region: got %v, want InternalServerError", err)
	}
	// An eventually consistent read is served by the Region's own replica.
	if it, err := getClaim(ctx, cl[east], "claim#before", false); err != nil || it == nil {
		t.Fatalf("eventually consistent read in the isolated Region: %v %v", it, err)
	}
	// The majority (the other Region and the witness) elects a leader if
	// it has to, then serves writes and strong reads.
	deadline := time.Now().Add(10 * time.Second)
	for err = putClaim(ctx, cl[west], "claim#majority", "p2"); err != nil && time.Now().Before(deadline); err = putClaim(ctx, cl[west], "claim#majority", "p2") {
		if errorCode(err) == "ConditionalCheckFailedException" {
			break // an attempt that timed out for us had committed
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil && errorCode(err) != "ConditionalCheckFailedException" {
		t.Fatalf("write on the majority side: %v", err)
	}
	if it, err := getClaim(ctx, cl[west], "claim#isolated", true); err != nil || it != nil {
		t.Fatalf("the isolated Region's failed write must not exist: %v %v", it, err)
	}
	if err := c.Rejoin(east); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		it, err := getClaim(ctx, cl[east], "claim#majority", true)
		if err == nil && it != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after rejoining, %s does not read the majority's write: %v %v", east, it, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two Regions claiming the same keys at the same moment: each key has
// exactly one winner; the loser meets ReplicatedWriteConflictException
// (the winner's write had not reached its replica) or, once it has,
// ConditionalCheckFailedException; a retried conflict ends as the latter.
func TestConcurrentClaimsFromTwoRegionsHaveOneWinner(t *testing.T) {
	_, cl := startCluster(t, 20*time.Millisecond)
	ctx := context.Background()
	const keys = 20
	conflicts := 0
	for k := range keys {
		pk := fmt.Sprintf("claim#k%d", k)
		var wg sync.WaitGroup
		errs := map[string]error{}
		var mu sync.Mutex
		gate := make(chan struct{})
		for _, r := range []string{east, west} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				err := putClaim(ctx, cl[r], pk, "pay-"+r)
				mu.Lock()
				errs[r] = err
				mu.Unlock()
			}()
		}
		close(gate)
		wg.Wait()
		winners := 0
		for r, err := range errs {
			switch errorCode(err) {
			case "":
				winners++
			case "ReplicatedWriteConflictException":
				conflicts++
				if err := retryConflicts(func() error { return putClaim(ctx, cl[r], pk, "pay-"+r) }); errorCode(err) != "ConditionalCheckFailedException" {
					t.Fatalf("%s: retried conflict in %s: got %v, want ConditionalCheckFailedException", pk, r, err)
				}
			case "ConditionalCheckFailedException":
			default:
				t.Fatalf("%s in %s: %v", pk, r, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d winners (%v), want 1", pk, winners, errs)
		}
	}
	if conflicts == 0 {
		t.Fatalf("no ReplicatedWriteConflictException in %d simultaneous pairs of claims 20ms apart", keys)
	}
	t.Logf("%d of %d simultaneous pairs met ReplicatedWriteConflictException", conflicts, keys)
}

// The Region holding the leader is cut off while its clients write as
// fast as they can: no write sent after the cut completes there, and no
// request of its pairs passes the routers any more, its raft streams
// included.
func TestIsolatedLeaderUnderLoadCompletesNothingAfterTheCut(t *testing.T) {
	c, cl := startCluster(t, 5*time.Millisecond)
	ctx := context.Background()
	for deadline := time.Now().Add(15 * time.Second); c.Leader(east) != east; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the leader did not move to %s", east)
		}
		_ = c.MoveLeader(ctx, east)
	}
	var cutAt atomic.Int64
	var before, after atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now().UnixNano()
				err := putClaim(ctx, cl[east], fmt.Sprintf("claim#%d-%d", g, i), "p")
				switch cut := cutAt.Load(); {
				case err != nil:
				case cut == 0:
					before.Add(1)
				case sent > cut:
					after.Add(1)
					t.Errorf("a write sent %s after the cut completed in the isolated Region", time.Duration(sent-cut))
				}
			}
		}()
	}
	time.Sleep(time.Second)
	if err := c.Isolate(east); err != nil {
		t.Fatal(err)
	}
	cutAt.Store(time.Now().UnixNano())
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		for _, k := range c.peers.pairsOf(east) {
			if n := c.peers.passing(k); n > 0 {
				t.Errorf("%d requests of the cut pair %s pass the routers", n, k)
			}
		}
	}
	close(stop)
	wg.Wait()
	if before.Load() == 0 {
		t.Fatal("no write completed before the cut: the test proved nothing")
	}
	t.Logf("%d writes before the cut, %d after", before.Load(), after.Load())
}

// A Region's own witness latency: with the leader in the far Region
// (from the witness, 40 ms each way; from the other Region, 100 ms), a
// write waits for the witness's acknowledgement, a round trip of at
// least 80 ms; with the leader in the near Region (1 ms), it does not.
func TestWitnessLatencyPerRegion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: t.TempDir(), Regions: []string{east, west}, Witness: witness, RegionLatency: 100 * time.Millisecond,
		WitnessLatency: time.Millisecond, WitnessLatencyOf: map[string]time.Duration{west: 40 * time.Millisecond}, OpTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	fastest := func(region string) time.Duration {
		t.Helper()
		if err := c.MoveLeader(ctx, region); err != nil {
			t.Fatal(err)
		}
		cli := serveRegion(t, c, region)
		best := time.Hour
		for i := range 5 {
			start := time.Now()
			if err := putClaim(ctx, cli, fmt.Sprintf("%s-%d", region, i), "p"); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	near, far := fastest(east), fastest(west)
	if far < 80*time.Millisecond || near >= far {
		t.Errorf("fastest write with the leader in %s %v, in %s %v; want the latter at least 80 ms and above the former", east, near, west, far)
	}
}

// Another process binding a member's client port between its pick and
// etcd's bind (the port is bound here for real, just before etcd binds
// it) costs a second start, not the cluster.
func TestStartSurvivesAPortTakenBeforeEtcdBindsIt(t *testing.T) {
	real := startEtcd
	t.Cleanup(func() { startEtcd = real })
	var taken net.Listener
	startEtcd = func(cfg *embed.Config) (*embed.Etcd, error) {
		if taken == nil {
			var err error
			if taken, err = net.Listen("tcp", cfg.ListenClientUrls[0].Host); err != nil {
				t.Fatalf("taking %s: %v", cfg.ListenClientUrls[0].Host, err)
			}
			t.Cleanup(func() { taken.Close() })
		}
		return real(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var log strings.Builder
	c, err := Start(ctx, Options{Dir: t.TempDir(), Regions: []string{east, west}, Witness: witness, OpTimeout: time.Second, Log: &syncWriter{w: &log}})
	if err != nil {
		t.Fatalf("start with a port taken once: %v", err)
	}
	defer c.Close()
	if !strings.Contains(log.String(), "starting again on other ports") {
		t.Errorf("the start did not meet the taken port (log: %q)", log.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
