// Command reconcile measures drctl reconcile's cost for a small lost
// window among many payments: it loads -payments payments into an "old
// primary" database and all but the newest -lost into a "writer"
// database (fresh databases on the servers of the two admin DSNs, with the
// payment service's schema and INSERTs), then times reconcile.Run with
// the MySQL engine, dry run and --apply. The cost should follow the
// window (lag budget + margin before the newest payment), not -payments.
//
//	go run ./bench/reconcile -old-dsn "$PAYMENTS_TEST_MYSQL_ADMIN_DSN" -writer-dsn "$PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN"
//
// bench/reconcile.sh starts the local backends and runs it.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

func main() {
	oldDSN := flag.String("old-dsn", os.Getenv("PAYMENTS_TEST_MYSQL_ADMIN_DSN"), "admin DSN of the server holding the old primary's database")
	writerDSN := flag.String("writer-dsn", os.Getenv("PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN"), "admin DSN of the server holding the writer's database")
	total := flag.Int("payments", 1_000_000, "payments in the old primary")
	lost := flag.Int("lost", 50, "newest payments the writer lacks")
	every := flag.Duration("every", 100*time.Millisecond, "time between two payments")
	lag := flag.Duration("lag-budget", time.Minute, "lag budget (the window is this plus reconcile.Margin)")
	flag.Parse()
	if *oldDSN == "" || *writerDSN == "" || *lost > *total {
		log.Fatal("need -old-dsn and -writer-dsn (the admin DSNs of two MariaDB/MySQL servers) and -lost <= -payments")
	}
	ctx := context.Background()
	name := fmt.Sprintf("bench_reconcile_%d", time.Now().Unix())
	oldDB, oldRun := database(ctx, *oldDSN, name)
	writerDB, writerRun := database(ctx, *writerDSN, name)
	defer drop(oldDB, name)
	defer drop(writerDB, name)
	start := time.Now()
	end := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	first := end.Add(-time.Duration(*total-1) * *every)
	errs := make(chan error, 2)
	go func() { errs <- load(ctx, oldDB, first, *every, 0, *total) }()
	go func() { errs <- load(ctx, writerDB, first, *every, 0, *total-*lost) }()
	check(<-errs)
	check(<-errs)
	fmt.Printf("loaded %d payments (old primary) and %d (writer), each with 2 ledger lines and an outbox row, in %s\n",
		*total, *total-*lost, time.Since(start).Round(time.Second))
	src, err := reconcile.OpenMySQL(ctx, oldRun)
	check(err)
	dst, err := reconcile.OpenMySQL(ctx, writerRun)
	check(err)
	for _, apply := range []bool{false, true} {
		t := time.Now()
		rep, err := reconcile.Run(ctx, "us-east-1", src, dst, reconcile.Options{Apply: apply, LagBudget: *lag})
		check(err)
		fmt.Printf("reconcile apply=%v: window from %s (%s), scanned %d, not in the writer %d (applied %d): %s\n",
			apply, rep.Since.Format(time.RFC3339), end.Sub(rep.Since), rep.Scanned, len(rep.Items), rep.Count(reconcile.Applied), time.Since(t).Round(time.Millisecond))
	}
}

// database creates a migrated database on the server of dsn; it returns
// the admin pool and a DSN naming the database.
func database(ctx context.Context, dsn, name string) (*sql.DB, string) {
	c, err := mysql.ParseDSN(dsn)
	check(err)
	root, err := sql.Open("mysql", c.FormatDSN())
	check(err)
	_, err = root.ExecContext(ctx, "CREATE DATABASE "+name)
	check(err)
	root.Close()
	c.DBName, c.ParseTime, c.InterpolateParams = name, true, true
	run := c.FormatDSN()
	// The bulk load's keys are unique and its references whole by
	// construction: the server need not check them row by row.
	c.Params = map[string]string{"foreign_key_checks": "0", "unique_checks": "0"}
	db, err := sql.Open("mysql", c.FormatDSN())
	check(err)
	_, err = mysqlstore.Migrate(ctx, db)
	check(err)
	return db, run
}

func drop(db *sql.DB, name string) {
	if _, err := db.Exec("DROP DATABASE " + name); err != nil {
		log.Printf("dropping %s: %v", name, err)
	}
	db.Close()
}

// load writes payments [from, to) with the payment tables' own bulk
// INSERTs, 2,000 per transaction.
func load(ctx context.Context, db *sql.DB, first time.Time, every time.Duration, from, to int) error {
	const batch = 2000
	hash := strings.Repeat("b", 64)
	for i := from; i < to; i += batch {
		var rows []mysqlstore.Row
		for j := i; j < min(i+batch, to); j++ {
			at := first.Add(time.Duration(j) * every)
			rows = append(rows, mysqlstore.NewRow(payments.Payment{ID: fmt.Sprintf("%032d", j), IdempotencyKey: fmt.Sprintf("order-%010d", j),
				Amount: 1000, Currency: "USD", MerchantRef: "merchant-1", CustomerRef: fmt.Sprintf("customer-%d", j%5000), SessionID: "session-1",
				Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: at}, hash))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, st := range mysqlstore.InsertRows(rows, rows[0].CreatedAt, rows[0].CreatedAt) {
			if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
