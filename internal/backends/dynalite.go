package backends

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// FindDynalite returns p made absolute, or when p is empty dynalite from
// PATH or from tools/node_modules/.bin (pinned in tools/package.json) in
// this directory or one above it.
func FindDynalite(p string) (string, error) {
	if p == "" {
		p = filepath.Join("tools", "node_modules", ".bin", "dynalite")
		if lp, err := exec.LookPath("dynalite"); err == nil {
			p = lp
		} else if dir, err := os.Getwd(); err == nil {
			for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
				if c := filepath.Join(dir, p); fileExists(c) {
					p = c
					break
				}
			}
		}
	}
	if !fileExists(p) {
		return "", fmt.Errorf("dynalite not found at %s: run `make tools/node_modules/.installed` or pass --dynalite", p)
	}
	return filepath.Abs(p)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// StartDynalite starts dynalite (bin) on port, its log and pid file in
// runDir, and waits until it listens. Clients should reach it through
// WholeRequests.
func StartDynalite(runDir, bin string, port int) (*proc.Proc, error) {
	p, err := proc.Start(runDir, "dynalite", bin, []string{"--host", Host, "--port", strconv.Itoa(port)}, os.Environ())
	if err != nil {
		return nil, err
	}
	if err := proc.WaitTCP(p, Host+":"+strconv.Itoa(port), 20*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

// DynamoDB is a client of a local DynamoDB endpoint (static throw-away
// credentials: dynalite checks only that a request is signed).
func DynamoDB(endpoint, region string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
}

// CreateSessionTable creates the payment service's session table (the
// stack's definition: key sessionId, on demand) and waits until it is
// ACTIVE: like DynamoDB, dynalite creates tables asynchronously.
func CreateSessionTable(ctx context.Context, c *dynamodb.Client, table string) error {
	return createTable(ctx, c, "session", &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("sessionId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("sessionId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
}

// CreateJournalTable creates a payment journal table (the stack's key
// schema: pk and sk, both strings; on demand) and waits until it is
// ACTIVE. dynalite has no multi-Region strong consistency: it stands in
// for one Region's view of the table with a majority reachable.
func CreateJournalTable(ctx context.Context, c *dynamodb.Client, table string) error {
	str := types.ScalarAttributeTypeS
	return createTable(ctx, c, "journal", &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: str}, {AttributeName: aws.String("sk"), AttributeType: str}},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		BillingMode: types.BillingModePayPerRequest,
	})
}

// createTable creates a table and waits until it is ACTIVE. The table
// existing already (ResourceInUseException) is this call's own create
// answered twice: the SDK retried an attempt whose answer was lost.
func createTable(ctx context.Context, c *dynamodb.Client, what string, in *dynamodb.CreateTableInput) error {
	var inUse *types.ResourceInUseException
	if _, err := c.CreateTable(ctx, in); err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("%s table %s: %w", what, *in.TableName, err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 20*time.Second)
}
