package mrsc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// frozenClock is a clock that moves only when told: every write of a test
// falls within one second of the partitions' write limit, however long
// the 2-core machine takes for it.
type frozenClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *frozenClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *frozenClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// putAll writes n items, keyed by pk(i), from both Regions, 16 at a
// time, and counts the throttled writes; any other error fails the test.
func putAll(t *testing.T, clients map[string]*dynamodb.Client, n int, pk func(int) string, pad int) (throttled int) {
	t.Helper()
	var count atomic.Int64
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := clients[[]string{east, west}[i%2]]
			_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: map[string]types.AttributeValue{
				"pk": s(pk(i)), "sk": s(fmt.Sprintf("2026-11-25T17:00:00.%06dZ#k%d", i, i)), "pad": s(strings.Repeat("x", pad))}})
			var pte *types.ProvisionedThroughputExceededException
			switch {
			case errors.As(err, &pte):
				if len(pte.ThrottlingReasons) != 1 || aws.ToString(pte.ThrottlingReasons[0].Reason) != "TableWriteKeyRangeThroughputExceeded" {
					t.Errorf("throttling reasons %+v, want TableWriteKeyRangeThroughputExceeded", pte.ThrottlingReasons)
				}
				count.Add(1)
			case err != nil:
				t.Errorf("put %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	return int(count.Load())
}

// One partition key takes 1,000 write units a second, from both Regions
// together; spread over partition keys, the same burst passes; a 1.5 KB
// item costs two units; a second later the key takes writes again.
func TestPartitionWriteLimit(t *testing.T) {
	clock := &frozenClock{now: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)}
	_, clients := startClusterAt(t, 0, clock.Now)

	if n := putAll(t, clients, 1100, func(int) string { return "minute#2026-11-25T17:00" }, 0); n != 100 {
		t.Errorf("1,100 small writes to one partition key within a second: %d throttled, want 100", n)
	}
	if n := putAll(t, clients, 1100, func(i int) string { return fmt.Sprintf("minute#2026-11-25T17:01#%02d", i%4) }, 0); n != 0 {
		t.Errorf("1,100 writes over 4 partition keys: %d throttled, want none", n)
	}
	if n := putAll(t, clients, 600, func(int) string { return "big" }, 1500); n != 100 {
		t.Errorf("600 writes of 1.5 KB (2 units each) to one key: %d throttled, want 100", n)
	}
	clock.add(time.Second)
	if n := putAll(t, clients, 10, func(int) string { return "minute#2026-11-25T17:00" }, 0); n != 0 {
		t.Errorf("a second later: %d of 10 writes throttled, want none", n)
	}
}
