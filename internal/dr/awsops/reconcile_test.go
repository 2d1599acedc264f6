package awsops

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// paymentsDB creates a migrated payments database on the MariaDB server
// of the admin DSN in env (the local backends).
func paymentsDB(t *testing.T, env, name string) *sql.DB {
	t.Helper()
	base := backends.Env(t, env)
	name = fmt.Sprintf("drctl_%s_%d", name, time.Now().UnixNano())
	root, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	c, _ := mysql.ParseDSN(base)
	// The Data API stand-in reads DATETIME columns as the text the Data API
	// returns, so the driver must not parse them.
	c.DBName, c.ParseTime = name, false
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP DATABASE " + name); db.Close() })
	if _, err := mysqlstore.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

func addPayment(t *testing.T, db *sql.DB, id, key string, amount int64, at time.Time) {
	t.Helper()
	addPayments(t, db, mysqlstore.NewRow(payments.Payment{ID: id, IdempotencyKey: key, Amount: amount, Currency: "USD", MerchantRef: "m",
		CustomerRef: "c", SessionID: "s", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: at}, strings.Repeat("b", 64)))
}

// addPayments writes rows in one transaction with the payment tables' own
// statements.
func addPayments(t *testing.T, db *sql.DB, rows ...mysqlstore.Row) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for len(rows) > 0 {
		n := min(len(rows), 500)
		for _, st := range mysqlstore.InsertRows(rows[:n], rows[0].CreatedAt, rows[0].CreatedAt) {
			if _, err := tx.Exec(st.SQL, st.Args...); err != nil {
				t.Fatal(err)
			}
		}
		rows = rows[n:]
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Reconcile on AWS, through the SDK's serializers: the kept snapshot is
// restored into a temporary cluster in the old Region (the old cluster's
// subnet group, security groups and key), its Data API enabled, read; the
// writer is written through its Data API; the temporary cluster is
// deleted. The two databases behind the Data API are the local MariaDB
// servers.
func TestReconcileRestoresTheKeptSnapshotAndReadsItThroughTheDataAPI(t *testing.T) {
	oldDB := paymentsDB(t, backends.EnvMySQLAdminDSN, "awsold")
	newDB := paymentsDB(t, backends.EnvMySQLSecondaryAdminDSN, "awsnew")
	t0 := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	addPayment(t, oldDB, "p-common", "key-common", 100, t0)
	addPayment(t, newDB, "p-common", "key-common", 100, t0)
	addPayment(t, oldDB, "p-lost", "key-lost", 2500, t0.Add(time.Second))
	addPayment(t, oldDB, "p-retried-old", "key-retried", 900, t0.Add(2*time.Second))
	addPayment(t, newDB, "p-retried-new", "key-retried", 900, t0.Add(9*time.Second))

	a, w := startWorld(t, now)
	w.writer = "us-west-2"
	w.snapshots = snapshotXML("rds:unplanned-global-failover-payments-us-east-1-dev-2026-11-25-04-10", "2026-11-25T04:10:00Z")
	w.data = &dataAPI{txs: map[string]*sql.Tx{}, dbs: map[string]*sql.DB{
		"arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-dev-reconcile": oldDB,
		"arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev":           newDB,
	}}
	a.ReconcileData.Backoff = plan.Backoff{Min: time.Millisecond, Max: time.Millisecond}
	ctx := context.Background()
	src, dst, release, err := a.ReconcileData.Open(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reconcile.Run(ctx, "us-east-1", src, dst, reconcile.Options{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 3 || rep.Count(reconcile.Applied) != 1 || rep.Count(reconcile.Conflict) != 1 || rep.Items[0].ID != "p-lost" || len(rep.Items[0].Ledger) != 2 {
		t.Fatalf("%+v", rep)
	}
	var n int
	newDB.QueryRow(`SELECT COUNT(*) FROM ledger_entries WHERE payment_id = 'p-lost'`).Scan(&n)
	var k int
	newDB.QueryRow(`SELECT COUNT(*) FROM payments WHERE idempotency_key = 'key-retried'`).Scan(&k)
	if n != 2 || k != 1 {
		t.Errorf("ledger of p-lost %d, key-retried charged %d times", n, k)
	}
	want := []string{
		"restore us-east-1 RestoreDBClusterFromSnapshot payments-us-east-1-dev-reconcile payments-us-east-1-dev-lost-writes-20261125t041000z payments-us-east-1-dev",
		"restore us-east-1 CreateDBInstance payments-us-east-1-dev-reconcilepayments-us-east-1-dev-reconcile-1  ",
		"restore us-east-1 EnableHttpEndpoint arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-dev-reconcile  ",
		"restore us-east-1 DeleteDBInstance payments-us-east-1-dev-reconcile-1  ",
		"restore us-east-1 DeleteDBCluster payments-us-east-1-dev-reconcile  ",
	}
	if got := w.sent("restore "); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("restore requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The Data API is enabled once the writer instance is available.
	if got := strings.Join(w.sent(""), "\n"); !regexp.MustCompile(`describe-instance payments-us-east-1-dev-reconcile-1 available\n(.*\n)*restore us-east-1 EnableHttpEndpoint`).MatchString(got) {
		t.Errorf("EnableHttpEndpoint before the instance was available:\n%s", got)
	}
	if got := w.sent("secretsmanager us-west-2 secretsmanager.DescribeSecret payment-dr/dev/db-master"); len(got) == 0 {
		t.Errorf("writer's secret not looked up: %q", w.sent("secretsmanager"))
	}
}

// dataWorld serves the old primary's database (as the temporary cluster)
// and the writer's through the Data API double, and returns Data API
// clients of both, built as drctl builds them.
func dataWorld(t *testing.T, oldDB, newDB *sql.DB) (src, dst *DataSQL, a *AWS, w *sdkWorld) {
	t.Helper()
	a, w = startWorld(t, now)
	const tempARN, writerARN = "arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-dev-reconcile", "arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev"
	w.data = &dataAPI{txs: map[string]*sql.Tx{}, dbs: map[string]*sql.DB{tempARN: oldDB, writerARN: newDB}}
	t.Cleanup(w.data.expire)
	src = &DataSQL{Client: a.ReconcileData.Data["us-east-1"], Cluster: tempARN, Secret: "s", Database: "payments"}
	dst = &DataSQL{Client: a.ReconcileData.Data["us-west-2"], Cluster: writerARN, Secret: "s", Database: "payments"}
	return src, dst, a, w
}

// Through the Data API of a provisioned cluster, a key already taken in
// the writer is reported as a DatabaseErrorException; Apply reads it as
// the taken key it is: Present for the same payment, Conflict for another.
func TestDataAPIApplyOfATakenKeyIsPresentOrConflict(t *testing.T) {
	newDB := paymentsDB(t, "PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN", "dapitaken")
	addPayment(t, newDB, "p-held", "key held/\x00\xff", 100, now) // any bytes: the key is VARBINARY
	_, dst, _, _ := dataWorld(t, newDB, newDB)
	ctx := context.Background()
	row := func(id, key string) mysqlstore.Row {
		return mysqlstore.NewRow(payments.Payment{ID: id, IdempotencyKey: key, Amount: 100, Currency: "USD", MerchantRef: "m",
			CustomerRef: "c", SessionID: "s", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: now}, strings.Repeat("b", 64))
	}
	if h, err := dst.Holders(ctx, []string{"key held/\x00\xff", "key held/"}); err != nil || len(h) != 1 || h["key held/\x00\xff"] != "p-held" {
		t.Errorf("holders: %q %v", h, err)
	}
	if out, err := dst.Apply(ctx, row("p-held", "key held/\x00\xff")); out != reconcile.Present || err != nil {
		t.Errorf("the same payment again: %q %v, want present", out, err)
	}
	if out, err := dst.Apply(ctx, row("p-other", "key held/\x00\xff")); out != reconcile.Conflict || err != nil {
		t.Errorf("another payment under the held key: %q %v, want conflict", out, err)
	}
	var n int
	newDB.QueryRow(`SELECT (SELECT COUNT(*) FROM payments) + (SELECT COUNT(*) FROM ledger_entries) + (SELECT COUNT(*) FROM payment_outbox)`).Scan(&n)
	if n != 4 {
		t.Errorf("a refused apply wrote: %d rows in the three tables, want 4", n)
	}
}

// A window of thousands of payments is more than one Data API response
// may carry (1 MiB): reconcile reads it in pages that each fit, and looks
// the keys up a page at a time.
func TestReconcileOverTheDataAPIPagesUnderTheResponseLimit(t *testing.T) {
	oldDB := paymentsDB(t, "PAYMENTS_TEST_MYSQL_ADMIN_DSN", "dapibigold")
	newDB := paymentsDB(t, "PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN", "dapibignew")
	const total, lost = 3990, 3 // the last page is short
	var rows []mysqlstore.Row
	for i := 0; i < total; i++ {
		rows = append(rows, mysqlstore.NewRow(payments.Payment{ID: fmt.Sprintf("p-%05d", i), IdempotencyKey: fmt.Sprintf("order-%05d-%s", i, strings.Repeat("k", 40)),
			Amount: 100, Currency: "USD", MerchantRef: "merchant-1", CustomerRef: "customer-1", SessionID: "session-1", Status: payments.StatusProcessed,
			Region: "us-east-1", CreatedAt: now.Add(time.Duration(i) * 10 * time.Millisecond)}, strings.Repeat("b", 64)))
	}
	addPayments(t, oldDB, rows...)
	addPayments(t, newDB, rows[:total-lost]...)
	src, dst, _, w := dataWorld(t, oldDB, newDB)
	ctx := context.Background()
	// The double refuses what the service refuses: the window in one call.
	if _, err := src.Page(ctx, reconcile.Cursor{CreatedAt: now}, total); err == nil || !strings.Contains(err.Error(), "DatabaseErrorException: Database response exceeded size limit") {
		t.Fatalf("the whole window in one call: %v", err)
	}
	w.data.statements = 0
	issued := new(atomic.Int64)
	src.Client = countStatements{src.Client, issued}
	dst.Client = countStatements{dst.Client, issued}
	rep, err := reconcile.Run(ctx, "us-east-1", src, dst, reconcile.Options{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != total || rep.Count(reconcile.Applied) != lost || rep.Items[0].ID != rows[total-lost].ID || len(rep.Items[0].Ledger) != 2 {
		t.Fatalf("scanned %d, items %d: %+v", rep.Scanned, len(rep.Items), rep.Items)
	}
	// One read for the newest payment, then per page of 500: the page,
	// its ledger, its keys; the last page is short, and each applied
	// payment is three INSERTs. Counted as reconcile sends them: the SDK
	// may retry a read (outside a transaction) on a busy machine.
	pages := (total + reconcile.PageSize - 1) / reconcile.PageSize
	if want := int64(1 + 3*pages + 3*lost); issued.Load() != want {
		t.Errorf("%d statements, want %d", issued.Load(), want)
	}
	if int64(w.data.statements) != issued.Load() {
		t.Logf("%d statements reached the databases for %d sent: the SDK retried", w.data.statements, issued.Load())
	}
}

// countStatements counts the ExecuteStatement calls made through a Data
// API client (one per statement, whatever the SDK's attempts).
type countStatements struct {
	DataAPI
	n *atomic.Int64
}

func (c countStatements) ExecuteStatement(ctx context.Context, in *rdsdata.ExecuteStatementInput, opts ...func(*rdsdata.Options)) (*rdsdata.ExecuteStatementOutput, error) {
	c.n.Add(1)
	return c.DataAPI.ExecuteStatement(ctx, in, opts...)
}

// A failure after the restore keeps the temporary cluster: the next
// attempt reuses it (no second restore, no new instance), and only
// release deletes it. A cluster restored from another snapshot is not
// reused.
func TestReconcileRetryReusesTheRestoredCluster(t *testing.T) {
	a, w := startWorld(t, now)
	w.writer = "us-west-2"
	w.snapshots = snapshotXML("rds:unplanned-global-failover-payments-us-east-1-dev-2026-11-25-04-10", "2026-11-25T04:10:00Z")
	w.data = &dataAPI{txs: map[string]*sql.Tx{}, dbs: map[string]*sql.DB{}}
	a.ReconcileData.Backoff = plan.Backoff{Min: time.Millisecond, Max: time.Millisecond}
	w.failEnable = 1
	ctx := context.Background()
	if _, _, _, err := a.ReconcileData.Open(ctx, "us-east-1"); err == nil || !strings.Contains(err.Error(), "payments-us-east-1-dev-reconcile in us-east-1 is kept") {
		t.Fatalf("first attempt: %v", err)
	}
	if got := w.sent("restore us-east-1 Delete"); len(got) != 0 {
		t.Fatalf("a failure after the restore deleted: %q", got)
	}
	_, _, release, err := a.ReconcileData.Open(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.sent("describe-instance payments-us-east-1-dev-reconcile-1 creating")); n != 1 {
		t.Errorf("the instance was created %d times", n)
	}
	if err := release(ctx); err != nil || len(w.sent("restore us-east-1 DeleteDBCluster")) != 1 {
		t.Errorf("release: %v %q", err, w.sent("restore us-east-1 Delete"))
	}
	w.restored, w.restoredFrom = 0, "payments-us-east-1-dev-lost-writes-20260101t000000z"
	if _, _, _, err := a.ReconcileData.Open(ctx, "us-east-1"); err == nil || !strings.Contains(err.Error(), "holds snapshot payments-us-east-1-dev-lost-writes-20260101t000000z") {
		t.Errorf("a cluster of another snapshot: %v", err)
	}
}
