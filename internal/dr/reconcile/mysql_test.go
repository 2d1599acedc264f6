package reconcile

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// database creates a fresh payments database on the server of adminDSN
// and returns its admin DSN (and the app user's, from appDSN).
func database(t *testing.T, adminEnv, appEnv, name string) (admin, app string, db *sql.DB) {
	t.Helper()
	base := backends.Env(t, adminEnv)
	name = fmt.Sprintf("drctl_%s_%d", name, time.Now().UnixNano())
	root, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, q := range []string{"CREATE DATABASE " + name, "GRANT SELECT, INSERT, UPDATE ON " + name + ".* TO 'payments_app'@'127.0.0.1'"} {
		if _, err := root.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if r, err := sql.Open("mysql", base); err == nil {
			r.Exec("DROP DATABASE " + name)
			r.Close()
		}
	})
	withDB := func(dsn string) string {
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		c.DBName, c.ParseTime = name, true
		return c.FormatDSN()
	}
	admin, app = withDB(base), withDB(backends.Env(t, appEnv))
	db, err = sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := mysqlstore.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return admin, app, db
}

var t0 = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)

// insert writes a processed payment, its two ledger entries and its
// outbox row, as the payment service does.
func insert(t *testing.T, db *sql.DB, id, key string, amount int64, at time.Time) {
	t.Helper()
	p := payments.Payment{ID: id, IdempotencyKey: key, Amount: amount, Currency: "USD", MerchantRef: "m1", CustomerRef: "c1",
		SessionID: "s1", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: at}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, st := range mysqlstore.InsertRow(mysqlstore.NewRow(p, strings.Repeat("a", 64)), at, at) {
		if _, err := tx.Exec(st.SQL, st.Args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The old primary (primary MariaDB) has two payments the writer (the
// read-only secondary, written through its admin) lacks: one lost, one
// whose key the client retried in the new Region. Ledger ids collide.
func TestReconcileReappliesLostPaymentsOnceAndReportsRetriedKeys(t *testing.T) {
	ctx := context.Background()
	oldDSN, _, oldDB := database(t, backends.EnvMySQLAdminDSN, backends.EnvMySQLDSN, "old")
	newDSN, newApp, newDB := database(t, backends.EnvMySQLSecondaryAdminDSN, backends.EnvMySQLSecondaryDSN, "new")
	insert(t, oldDB, "p-common", "key-common", 100, t0)
	insert(t, newDB, "p-newonly", "key-newonly", 7, t0.Add(time.Second)) // takes ledger ids 1, 2 in the writer
	insert(t, newDB, "p-common", "key-common", 100, t0)
	insert(t, oldDB, "p-lost", "key-lost", 2500, t0.Add(2*time.Second))
	insert(t, oldDB, "p-retried-old", "key-retried", 900, t0.Add(3*time.Second))
	insert(t, newDB, "p-retried-new", "key-retried", 900, t0.Add(10*time.Second))

	access := DSNAccess{Old: map[string]string{"us-east-1": oldDSN}, Writer: newDSN}
	src, dst, release, err := access.Open(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	rep, err := Run(ctx, "us-east-1", src, dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 3 || len(rep.Items) != 2 || rep.Items[0].ID != "p-lost" || rep.Items[0].Outcome != Missing ||
		rep.Items[1].Outcome != Conflict || rep.Items[1].ExistingID != "p-retried-new" || len(rep.Items[0].Ledger) != 2 {
		t.Fatalf("dry run: %+v", rep)
	}
	if n := count(t, newDB, "SELECT COUNT(*) FROM payments"); n != 3 {
		t.Fatalf("the dry run wrote: %d payments", n)
	}
	rep, err = Run(ctx, "us-east-1", src, dst, Options{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(Applied) != 1 || rep.Count(Conflict) != 1 {
		t.Fatalf("apply: %+v", rep)
	}
	// The lost payment is back with both ledger entries; the retried key
	// is charged once (the new Region's payment), never twice.
	if n := count(t, newDB, "SELECT COUNT(*) FROM ledger_entries WHERE payment_id = 'p-lost' AND amount = 2500"); n != 2 {
		t.Errorf("ledger of p-lost: %d entries", n)
	}
	// Its event is due in the writer's outbox, so the new Region publishes
	// it (consumers deduplicate on the payment id).
	if n := count(t, newDB, "SELECT COUNT(*) FROM payment_outbox WHERE payment_id = 'p-lost' AND sent_at IS NULL"); n != 1 {
		t.Errorf("outbox rows of p-lost: %d, want 1 unsent", n)
	}
	if n := count(t, newDB, "SELECT COUNT(*) FROM payments WHERE idempotency_key = 'key-retried'"); n != 1 {
		t.Errorf("key-retried charged %d times", n)
	}
	// Applying again changes nothing: it is idempotent.
	rep, err = Run(ctx, "us-east-1", src, dst, Options{Apply: true})
	if err != nil || rep.Count(Applied) != 0 || rep.Count(Conflict) != 1 || count(t, newDB, "SELECT COUNT(*) FROM payments") != 4 {
		t.Errorf("second apply: %+v %v", rep, err)
	}
	// Through the application user the read-only secondary refuses: the
	// error says so and nothing is written.
	insert(t, oldDB, "p-lost-2", "key-lost-2", 5, t0.Add(4*time.Second))
	ro, err := OpenMySQL(ctx, newApp)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := Run(ctx, "us-east-1", src, ro, Options{Apply: true}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only writer: %v", err)
	}
}

// Re-applying a payment whose key the writer already holds writes
// nothing: the unique key refuses the insert and its holder decides,
// Present for the same payment, Conflict for another one.
func TestApplyOfATakenKeyIsPresentOrConflict(t *testing.T) {
	ctx := context.Background()
	dsn, _, db := database(t, "PAYMENTS_TEST_MYSQL_ADMIN_DSN", "PAYMENTS_TEST_MYSQL_DSN", "taken")
	insert(t, db, "p-held", "key-held", 100, t0)
	dst, err := OpenMySQL(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	row := func(id, key string) mysqlstore.Row {
		return mysqlstore.NewRow(payments.Payment{ID: id, IdempotencyKey: key, Amount: 100, Currency: "USD", MerchantRef: "m1",
			CustomerRef: "c1", SessionID: "s1", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: t0}, strings.Repeat("a", 64))
	}
	if out, err := dst.Apply(ctx, row("p-held", "key-held")); out != Present || err != nil {
		t.Errorf("the same payment again: %q %v, want present", out, err)
	}
	if out, err := dst.Apply(ctx, row("p-other", "key-held")); out != Conflict || err != nil {
		t.Errorf("another payment under the held key: %q %v, want conflict", out, err)
	}
	if _, err := dst.Apply(ctx, row("p-held", "key-new")); err == nil || !strings.Contains(err.Error(), "already exists under another idempotency key") {
		t.Errorf("the held id under a new key: %v", err)
	}
	for q, want := range map[string]int{"SELECT COUNT(*) FROM payments": 1, "SELECT COUNT(*) FROM ledger_entries": 2, "SELECT COUNT(*) FROM payment_outbox": 1} {
		if n := count(t, db, q); n != want {
			t.Errorf("%s = %d, want %d: a refused apply wrote", q, n, want)
		}
	}
}

// Reconcile reads only the window that can hold lost payments (from the
// old primary's newest payment minus the lag budget and the margin), page
// by page; payments older than the window are never read.
func TestReconcileReadsOnlyTheWindowPageByPage(t *testing.T) {
	ctx := context.Background()
	oldDSN, _, oldDB := database(t, "PAYMENTS_TEST_MYSQL_ADMIN_DSN", "PAYMENTS_TEST_MYSQL_DSN", "winold")
	newDSN, _, newDB := database(t, "PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN", "PAYMENTS_TEST_MYSQL_SECONDARY_DSN", "winnew")
	end := t0.Add(2 * time.Hour)
	for i := 0; i < 20; i++ { // replicated long before the failover; p-ancient-* also lost, but outside any window
		at := t0.Add(time.Duration(i) * time.Minute)
		insert(t, oldDB, fmt.Sprintf("p-ancient-%02d", i), fmt.Sprintf("key-ancient-%02d", i), 10, at)
	}
	for i := 0; i < 7; i++ { // the window: replicated, then lost from end-30s on
		at := end.Add(time.Duration(i-6) * 10 * time.Second)
		insert(t, oldDB, fmt.Sprintf("p-%d", i), fmt.Sprintf("key-%d", i), 10, at)
		if i < 3 {
			insert(t, newDB, fmt.Sprintf("p-%d", i), fmt.Sprintf("key-%d", i), 10, at)
		}
	}
	access := DSNAccess{Old: map[string]string{"us-east-1": oldDSN}, Writer: newDSN}
	src, dst, release, err := access.Open(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	rep, err := Run(ctx, "us-east-1", src, dst, Options{LagBudget: 55 * time.Second, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := end.Add(-55*time.Second - Margin); !rep.Since.Equal(want) {
		t.Errorf("window from %s, want %s", rep.Since, want)
	}
	if rep.Scanned != 7 || len(rep.Items) != 4 || rep.Items[0].ID != "p-3" || rep.FirstMissing {
		t.Fatalf("window: %+v", rep)
	}
	// A window whose oldest payment is missing too says the loss may
	// begin before it.
	rep, err = Run(ctx, "us-east-1", src, dst, Options{Since: end.Add(-25 * time.Second), PageSize: 2})
	if err != nil || rep.Scanned != 3 || !rep.FirstMissing {
		t.Errorf("short window: %+v %v", rep, err)
	}
}
