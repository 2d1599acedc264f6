package paymentclaims_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/memstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
)

// deleteCounter counts one Region's DeleteItem calls on the wire.
type deleteCounter struct {
	claims.API
	deletes atomic.Int64
}

func (d *deleteCounter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.deletes.Add(1)
	return d.API.DeleteItem(ctx, in, opts...)
}

// Both Regions' scheduled sweeps run at once over one journal (dynalite):
// only the Region whose database is writable deletes, each expired claim
// once (its claim item and its time item), and none is left.
func TestTwoRegionsSweepingDoNotDeleteTheSameClaims(t *testing.T) {
	client, table := backends.JournalTable(t)
	now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	retention := 72 * time.Hour
	seed := &claims.Journal{Client: client, Table: table}
	const nClaims = 120
	for i := range nClaims {
		at := now.Add(-retention - 3*time.Minute + time.Duration(i)*time.Second)
		p := payments.Payment{ID: fmt.Sprintf("pay-%d", i), IdempotencyKey: fmt.Sprintf("key-%d", i), Amount: 100, Currency: "EUR",
			Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: at}
		if _, err := (paymentclaims.Journal{J: seed}).Claim(context.Background(), p, "h"); err != nil {
			t.Fatal(err)
		}
	}
	region := func(readOnly bool) (*payments.Service, *deleteCounter) {
		wire := &deleteCounter{API: client}
		store := memstore.New()
		store.ReadOnly = readOnly
		j := &claims.Journal{Client: wire, Table: table, SweepLookback: 10 * time.Minute}
		return &payments.Service{Store: store, Journal: paymentclaims.Journal{J: j}, JournalRetention: retention,
			Now: func() time.Time { return now }}, wire
	}
	writer, writerWire := region(false)
	secondary, secondaryWire := region(true)

	var wg sync.WaitGroup
	var removed [2]int
	var errs [2]error
	for i, svc := range []*payments.Service{writer, secondary} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			removed[i], errs[i] = svc.SweepJournal(context.Background())
		}()
	}
	wg.Wait()
	if errs[0] != nil || removed[0] != nClaims {
		t.Errorf("writer's sweep: removed %d, %v; want %d", removed[0], errs[0], nClaims)
	}
	if n := secondaryWire.deletes.Load(); n != 0 {
		t.Errorf("the read-only Region sent %d deletes, want none (the writer sweeps)", n)
	}
	if n := writerWire.deletes.Load(); n != 2*nClaims {
		t.Errorf("the writer sent %d deletes, want %d (each claim's two items once)", n, 2*nClaims)
	}
	left := 0
	if err := seed.Window(context.Background(), now.Add(-retention-time.Hour), now.Add(-retention), func(claims.Claim) error { left++; return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d expired claims left", left)
	}
}
