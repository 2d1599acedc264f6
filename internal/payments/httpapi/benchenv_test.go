package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
)

type bench struct {
	*env
	sessions  *dynamo.Sessions
	publisher *eventbus.Publisher
	journal   *claims.Journal
}

// benchEnv is the test environment plus what the floor needs to send the
// same session item and event (same payloads, same endpoints) without the
// handler and the domain around them.
// The service claims every key in a journal table on dynalite, as it
// does in the MRSC table on AWS.
func benchEnv(b *testing.B) *bench {
	e := primary(b)
	client, table := backends.JournalTable(b)
	j := &claims.Journal{Client: client, Table: table}
	e.handler.Service.Journal = paymentclaims.Journal{J: j}
	return &bench{env: e, sessions: &dynamo.Sessions{Client: e.ddb, Table: e.table},
		publisher: &eventbus.Publisher{Client: e.events.Client(), Bus: "bench", Region: "us-east-1"}, journal: j}
}

// floor performs the unavoidable round trips of one payment directly.
func (e *bench) floor(i int) error {
	// A request deadline is part of any real call (the handler sets one).
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	id := payments.NewID()
	now := time.Now().UTC()
	// The claim: the claim item and the time item, written in parallel.
	claim := claims.Claim{Key: "floor-" + id, PaymentID: id, RequestHash: "h", Amount: 100, Currency: "EUR",
		MerchantRef: "m", CustomerRef: "c", SessionID: "s-" + id, Status: claims.StatusProcessed, Region: "us-east-1", ClaimedAt: now}
	if _, err := e.journal.Claim(ctx, claim); err != nil {
		return err
	}
	// The transaction in one round trip (as mysqlstore sends it), with
	// the outbox row.
	if _, err := e.app.ExecContext(ctx, `SET SESSION innodb_lock_wait_timeout = 5; START TRANSACTION;
	  INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, region, created_at)
	  VALUES (?, ?, 'h', 100, 'EUR', 'm', 'c', ?, 'processed', 'us-east-1', ?);
	  INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at)
	  VALUES (?, 'customer:c', 'debit', 100, 'EUR', ?), (?, 'merchant:m', 'credit', 100, 'EUR', ?);
	  INSERT INTO payment_outbox (payment_id, created_at, next_attempt_at) VALUES (?, ?, ?);
	  COMMIT`, id, fmt.Sprint("floor-", id), "s-"+id, now, id, now, id, now, id, now, now.Add(payments.InlineGrace)); err != nil {
		return err
	}
	// Then the claim marked committed, the same session item and event
	// the service writes, in parallel, and the event's row marked sent.
	p := payments.Payment{ID: id, IdempotencyKey: "floor-" + id, Amount: 100, Currency: "EUR", MerchantRef: "m-1",
		CustomerRef: "c-" + strconv.Itoa(i), SessionID: "s-" + id, Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: now}
	var wg sync.WaitGroup
	var putErr, evErr, markErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		markErr = e.journal.Commit(ctx, claim)
	}()
	go func() {
		defer wg.Done()
		putErr = e.sessions.Put(ctx, p)
	}()
	go func() {
		defer wg.Done()
		if evErr = e.publisher.Publish(ctx, []payments.Event{payments.EventFor(p)})[0]; evErr == nil {
			_, evErr = e.app.ExecContext(ctx, "UPDATE payment_outbox SET sent_at = ?, claim_token = NULL WHERE payment_id IN (?)", time.Now().UTC(), id)
		}
	}()
	wg.Wait()
	return errors.Join(markErr, putErr, evErr)
}
