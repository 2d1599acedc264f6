package httpapi_test

import (
	"context"
	"fmt"
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
)

type bench struct {
	*env
	eb *eventbridge.Client
}

func benchEnv(b *testing.B) *bench {
	e := primary(b)
	return &bench{env: e, eb: e.events.Client()}
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
