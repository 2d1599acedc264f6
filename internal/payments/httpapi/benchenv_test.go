package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

type bench struct {
	*env
	eb      *eventbridge.Client
	handler *httpapi.Handler
}

func benchEnv(b *testing.B) *bench {
	app, admin, _ := paymentstest.Database(b, "PAYMENTS_TEST_MYSQL_DSN", "PAYMENTS_TEST_MYSQL_ADMIN_DSN")
	ddb, table := paymentstest.Dynamo(b)
	ebs := paymentstest.NewEventBridge(b)
	svc := &payments.Service{
		Store:    mysqlstore.New(app),
		Sessions: &dynamo.Sessions{Client: ddb, Table: table},
		Events:   &eventbus.Publisher{Client: ebs.Client(), Bus: "bench", Region: "us-east-1"},
		Region:   "us-east-1",
	}
	h := &httpapi.Handler{Service: svc, APIKey: apiKey, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return &bench{env: &env{srv: srv, app: app, admin: admin, ddb: ddb, table: table, events: ebs}, eb: ebs.Client(), handler: h}
}

// floor performs the unavoidable round trips of one payment directly.
func (e *bench) floor(i int) error {
	ctx := context.Background()
	id := payments.NewID()
	now := time.Now().UTC()
	tx, err := e.app.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, region, created_at)
	  VALUES (?, ?, 'h', 100, 'EUR', 'm', 'c', ?, 'processed', 'us-east-1', ?)`, id, fmt.Sprint("floor-", id), "s-"+id, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at)
	  VALUES (?, 'customer:c', 'debit', 100, 'EUR', ?), (?, 'merchant:m', 'credit', 100, 'EUR', ?)`, id, now, id, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var putErr, evErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, putErr = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
			"sessionId": &types.AttributeValueMemberS{Value: "s-" + id}, "n": &types.AttributeValueMemberN{Value: strconv.Itoa(i)}}})
	}()
	go func() {
		defer wg.Done()
		_, evErr = e.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String("bench"), Source: aws.String("custom.payment"), DetailType: aws.String("Payment Processed"), Detail: aws.String(`{"id":"` + id + `"}`)}}})
	}()
	wg.Wait()
	if putErr != nil {
		return putErr
	}
	return evErr
}
