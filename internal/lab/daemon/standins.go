package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/lab/awsstub"
	"github.com/payment-dr/payment-dr/internal/lab/proc"
)

// startDynalite starts dynalite and the front clients reach it through.
func (d *Daemon) startDynalite() error {
	addr := "127.0.0.1:" + strconv.Itoa(d.ports.dynalite)
	p, err := proc.Start(string(d.dir), "dynalite", d.opt.Dynalite, []string{"--host", "127.0.0.1", "--port", strconv.Itoa(d.ports.dynalite)}, os.Environ())
	if err != nil {
		return err
	}
	d.dynalite = p
	if err := proc.WaitTCP(p, addr, 20*time.Second); err != nil {
		return err
	}
	front, err := awsstub.WholeRequests("http://" + addr)
	if err != nil {
		return err
	}
	d.serveHTTP(d.ports.dynamo, front)
	return nil
}

// createTable creates the session table in dynalite and waits until it
// is active.
func (d *Daemon) createTable(ctx context.Context, table string) error {
	c := dynamodb.New(dynamodb.Options{Region: d.cfg.PrimaryRegion, BaseEndpoint: aws.String(d.state.DynamoEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider("lab", "lab", "")})
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("sessionId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("sessionId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("session table in dynalite: %w", err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second)
}

// startStandIns serves the AWS stand-ins the services call: Secrets
// Manager and one event bus per Region, each bus forwarding to the other
// Region's as a cross-Region rule does.
func (d *Daemon) startStandIns() error {
	n := d.naming()
	if err := os.MkdirAll(d.dir.Path("events"), 0o700); err != nil {
		return err
	}
	primary, secondary := d.parts[d.cfg.PrimaryRegion], d.parts[d.cfg.SecondaryRegion]
	primary.bus = &awsstub.Bus{Region: primary.name, Log: d.dir.Path("events", primary.name+".jsonl")}
	secondary.bus = &awsstub.Bus{Region: secondary.name, Log: d.dir.Path("events", secondary.name+".jsonl"), Other: primary.bus}
	primary.bus.Other = secondary.bus
	d.serveHTTP(d.ports.secrets, &awsstub.Secrets{Values: map[string]string{n.APIKeySecretName(): d.state.Passwords[apiKeyPassword]}})
	for _, r := range d.parts {
		d.serveHTTP(d.ports.bus[r.name], r.bus)
	}
	return nil
}

func (d *Daemon) serveHTTP(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.servers = append(d.servers, srv)
	go func() { _ = srv.Serve(l) }()
}
