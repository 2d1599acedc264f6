package awsops

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// dynaliteTable creates a fresh session-like table on the local dynalite
// started by scripts/backends.sh.
func dynaliteTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	ep := backends.Env(t, backends.EnvDynamoDBEndpoint)
	c := dynamodb.NewFromConfig(aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	table := fmt.Sprintf("drctl-journal-%d", time.Now().UnixNano())
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("sessionId"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("sessionId"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return c, table
}

// The mirror's write was unconditional, so two drctl processes
// could overwrite each other's journal.
func TestMirrorWriteIsVersionedAndConditionalOnDynalite(t *testing.T) {
	c, table := dynaliteTable(t)
	mirror := func() *JournalMirror {
		return &JournalMirror{Table: table, Regions: []string{"us-west-2"}, Clients: map[string]DynamoDBAPI{"us-west-2": c}, Now: time.Now}
	}
	a, b := mirror(), mirror()
	ctx := context.Background()
	id := "failover-20261125T040000Z-us-west-2"
	v := func(n int) []byte { return []byte(fmt.Sprintf(`{"id":%q,"kind":"failover","version":%d}`, id, n)) }
	if err := a.Put(ctx, id, v(1)); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, id, v(2)); err != nil {
		t.Fatal(err)
	}
	// Another process, also at version 1, writes its version 2: refused.
	if err := b.Put(ctx, id, v(2)); !errors.Is(err, runlog.ErrConflict) {
		t.Fatalf("second writer of version 2: %v", err)
	}
	if err := b.Put(ctx, id, v(1)); !errors.Is(err, runlog.ErrConflict) {
		t.Fatalf("stale version 1: %v", err)
	}
	got, err := b.Get(ctx, id)
	if err != nil || string(got) != string(v(2)) {
		t.Fatalf("stored %s %v", got, err)
	}
	// A later version from whoever holds the run goes through.
	if err := b.Put(ctx, id, v(3)); err != nil {
		t.Fatal(err)
	}
}
