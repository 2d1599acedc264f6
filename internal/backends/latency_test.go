package backends

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestParseAWSLatency(t *testing.T) {
	for in, want := range map[string]AWSLatency{
		"12ms":                            {Write: 12 * time.Millisecond, ConsistentRead: 12 * time.Millisecond},
		"write=50ms,consistent-read=40ms": {Write: 50 * time.Millisecond, ConsistentRead: 40 * time.Millisecond},
		"read=1ms, write=2ms":             {Read: time.Millisecond, Write: 2 * time.Millisecond},
		"0s":                              {},
	} {
		got, err := ParseAWSLatency(in)
		if err != nil || got != want {
			t.Errorf("ParseAWSLatency(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1ms", "fast", "write=", "write=-2ms", "commit=3ms", "write=3"} {
		if _, err := ParseAWSLatency(bad); err == nil {
			t.Errorf("ParseAWSLatency(%q) accepted", bad)
		}
	}
}

func FuzzParseAWSLatency(f *testing.F) {
	for _, s := range []string{"12ms", "write=1ms,read=2ms", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseAWSLatency(s)
		if err == nil && (l.Write < 0 || l.Read < 0 || l.ConsistentRead < 0) {
			t.Fatalf("%q gave a negative latency %+v", s, l)
		}
	})
}

func TestLatencyOfEachOperation(t *testing.T) {
	l := AWSLatency{Write: 3, ConsistentRead: 2, Read: 1}
	for _, c := range []struct {
		op, body string
		want     time.Duration
	}{
		{"PutItem", `{}`, 3}, {"DeleteItem", `{}`, 3}, {"UpdateItem", `{}`, 3}, {"BatchWriteItem", `{}`, 3},
		{"GetItem", `{"ConsistentRead":true}`, 2}, {"GetItem", `{}`, 1}, {"Query", `{"ConsistentRead":false}`, 1},
		{"Query", `{"ConsistentRead":true}`, 2}, {"BatchGetItem", `{"RequestItems":{"t":{"ConsistentRead":true}}}`, 2},
		{"BatchGetItem", `{"RequestItems":{"t":{}}}`, 1}, {"CreateTable", `{}`, 0}, {"DescribeTable", `{}`, 0},
	} {
		if got := l.Of("DynamoDB_20120810."+c.op, []byte(c.body)); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.op, c.body, got, c.want)
		}
	}
}

// Through the SDK against dynalite: a consistent read and a write pay the
// added latency, an eventually consistent read does not, and a write
// whose client gave up during the delay is applied all the same.
func TestJournalTableAtAddsTheRoundTrips(t *testing.T) {
	const d = 150 * time.Millisecond
	c, table := JournalTableAt(t, AWSLatency{Write: d, ConsistentRead: d})
	ctx := context.Background()
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}, "sk": &types.AttributeValueMemberS{Value: "s"}}
	timed := func(fn func() error) time.Duration {
		t.Helper()
		start := time.Now()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	put := timed(func() error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key})
		return err
	})
	strong := timed(func() error {
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		return err
	})
	eventual := timed(func() error {
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
		return err
	})
	if put < d || strong < d || eventual >= d {
		t.Errorf("put %v, consistent get %v, eventual get %v; want the first two at least %v and the last below it", put, strong, eventual, d)
	}

	short, cancel := context.WithTimeout(ctx, d/3)
	defer cancel()
	gone := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "gone"}, "sk": &types.AttributeValueMemberS{Value: "s"}}
	if _, err := c.PutItem(short, &dynamodb.PutItemInput{TableName: &table, Item: gone}); err == nil {
		t.Fatal("a put whose client gave up before the delay ended succeeded")
	}
	time.Sleep(2 * d)
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: gone, ConsistentRead: aws.Bool(true)})
	if err != nil || len(out.Item) == 0 {
		t.Errorf("the abandoned put was not applied (%v): on AWS a timed-out write may have been", err)
	}
}
