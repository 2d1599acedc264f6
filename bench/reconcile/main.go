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
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/payment-dr/payment-dr/bench/benchdb"
	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/payments"
)

func main() {
	oldDSN := flag.String("old-dsn", os.Getenv(backends.EnvMySQLAdminDSN), "admin DSN of the server holding the old primary's database")
	writerDSN := flag.String("writer-dsn", os.Getenv(backends.EnvMySQLSecondaryAdminDSN), "admin DSN of the server holding the writer's database")
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
	oldDB, oldRun, err := benchdb.Create(ctx, *oldDSN, name)
	check(err)
	defer benchdb.Drop(oldDB, name)
	writerDB, writerRun, err := benchdb.Create(ctx, *writerDSN, name)
	check(err)
	defer benchdb.Drop(writerDB, name)
	start := time.Now()
	end := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	first := end.Add(-time.Duration(*total-1) * *every)
	pay := func(i int) payments.Payment { return benchdb.Payment(i, first, *every) }
	errs := make(chan error, 2)
	go func() { errs <- benchdb.Load(ctx, oldDB, pay, 0, *total) }()
	go func() { errs <- benchdb.Load(ctx, writerDB, pay, 0, *total-*lost) }()
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

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
