package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	_, admin, _ := paymentstest.Database(t, "PAYMENTS_TEST_MYSQL_DSN", "PAYMENTS_TEST_MYSQL_ADMIN_DSN")
	applied, err := mysqlstore.Migrate(context.Background(), admin)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migration applied %v (%v)", applied, err)
	}
	if n := paymentstest.Count(t, admin, "SELECT COUNT(*) FROM schema_migrations"); n != 1 {
		t.Errorf("%d recorded migrations", n)
	}
}

func TestStoreRoundTripAndSchemaGuards(t *testing.T) {
	app, _, _ := paymentstest.Database(t, "PAYMENTS_TEST_MYSQL_DSN", "PAYMENTS_TEST_MYSQL_ADMIN_DSN")
	s := mysqlstore.New(app)
	ctx := context.Background()
	p := payments.Payment{ID: payments.NewID(), IdempotencyKey: "k", Amount: 5, Currency: "JPY", MerchantRef: "m", CustomerRef: "c",
		SessionID: "s", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: time.Date(2026, 11, 25, 4, 0, 0, 123456000, time.UTC)}
	got, hash, created, err := s.Create(ctx, p, "h1")
	if err != nil || !created || hash != "h1" {
		t.Fatalf("create: %v %v", created, err)
	}
	back, err := s.Get(ctx, p.ID)
	if err != nil || back != got {
		t.Fatalf("round trip:\n%+v\n%+v (%v)", back, got, err)
	}
	if _, err := s.Get(ctx, payments.NewID()); !errors.Is(err, payments.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	// The database itself refuses a non-positive amount, whatever the code does.
	bad := p
	bad.ID, bad.IdempotencyKey, bad.Amount = payments.NewID(), "k2", 0
	if _, _, _, err := s.Create(ctx, bad, "h2"); err == nil {
		t.Error("zero amount stored")
	}
	if n := paymentstest.Count(t, app, "SELECT COUNT(*) FROM payments"); n != 1 {
		t.Errorf("%d payments", n)
	}
	if ok, err := s.Writable(ctx); err != nil || !ok {
		t.Errorf("writable: %v %v", ok, err)
	}
}
