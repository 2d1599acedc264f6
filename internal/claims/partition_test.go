package claims

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/lab/mrsc"
)

// standIn starts the lab's MRSC stand-in with the partitions' write limit
// on a stopped clock (every write falls within one second) and returns a
// journal on its us-east-1 endpoint. The client makes one attempt per
// call: on a stopped clock a retried throttled write is throttled again.
func standIn(t *testing.T) *Journal {
	t.Helper()
	const table = "payment-journal-test"
	stopped := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := mrsc.Start(ctx, mrsc.Options{Dir: t.TempDir(), Regions: []string{"us-east-1", "us-west-2"}, Witness: "us-east-2",
		WitnessLatency: time.Millisecond, OpTimeout: 2 * time.Second, Now: func() time.Time { return stopped }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h, err := c.Endpoint("us-east-1", mrsc.Table{Name: table, HashKey: "pk", RangeKey: "sk"})
	if err != nil {
		t.Fatal(err)
	}
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(backends.Serve(t, h)),
		Credentials: credentials.NewStaticCredentialsProvider("lab", "lab", ""), RetryMaxAttempts: 1})
	return &Journal{Client: client, Table: table}
}

// 1,200 claims within one second, each one's time item in the same
// minute: DynamoDB takes 1,000 write units a second per partition key
// (awslimits.DynamoDBPartitionWrites), so one time-item partition per
// minute throttles the claims beyond it; spread over TimeShards
// partitions, every claim succeeds.
func TestClaimsBeyondOnePartitionsWriteLimit(t *testing.T) {
	j := standIn(t)
	at := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	const claims = 1200
	var mu sync.Mutex
	var failed []error
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range claims {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			got, err := j.Claim(context.Background(), newClaim(fmt.Sprintf("burst-%04d", i), at.Add(time.Duration(i)*time.Microsecond)))
			if err == nil && !got.New {
				err = fmt.Errorf("claim %d found a holder", i)
			}
			if err != nil {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d claims within one second failed; first: %v", len(failed), claims, failed[0])
	}
	n := 0
	if err := j.Window(context.Background(), at, at.Add(time.Second), func(Claim) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != claims {
		t.Errorf("the window holds %d time items, want %d", n, claims)
	}
}
