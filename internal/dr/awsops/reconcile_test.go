package awsops

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
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
	if _, err := db.Exec(`INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, region, created_at)
VALUES (?, ?, ?, ?, 'USD', 'm', 'c', 's', 'processed', 'us-east-1', ?)`, id, key, strings.Repeat("b", 64), amount, at); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"debit", "credit"} {
		if _, err := db.Exec(`INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at) VALUES (?, ?, ?, ?, 'USD', ?)`, id, "acct-"+d, d, amount, at); err != nil {
			t.Fatal(err)
		}
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
	rep, err := reconcile.Run(ctx, "us-east-1", src, dst, true)
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
		"restore us-east-1 RestoreDBClusterFromSnapshot payments-us-east-1-dev-reconcile payments-us-east-1-dev-lost-writes-20261125t041000z payments-db-us-east-1",
		"restore us-east-1 CreateDBInstance payments-us-east-1-dev-reconcilepayments-us-east-1-dev-reconcile-1  ",
		"restore us-east-1 EnableHttpEndpoint arn:aws:rds:us-east-1:111111111111:cluster:payments-us-east-1-dev-reconcile  ",
		"restore us-east-1 DeleteDBInstance payments-us-east-1-dev-reconcile-1  ",
		"restore us-east-1 DeleteDBCluster payments-us-east-1-dev-reconcile  ",
	}
	if got := w.sent("restore "); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("restore requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := w.sent("secretsmanager us-west-2 secretsmanager.DescribeSecret payment-dr/dev/db-master"); len(got) == 0 {
		t.Errorf("writer's secret not looked up: %q", w.sent("secretsmanager"))
	}
}
