// Command journalreplay measures the failover's journal replay: the
// writer's database holds -payments payments except the newest -lost
// (the old writer acknowledged them, replication had stalled), and the
// journal (a table on the DynamoDB endpoint, dynalite locally) holds the
// claims of the replay's window. It then times the replay as drctl runs
// it (one-minute chunks through payments.Service.ReplayJournal) and
// checks that exactly the lost payments were completed. The cost should
// follow the window's claims, not -payments.
//
//	go run ./bench/journalreplay -writer-dsn "$PAYMENTS_TEST_MYSQL_ADMIN_DSN" -dynamodb "$PAYMENTS_TEST_DYNAMODB_ENDPOINT"
//
// bench/journal-replay.sh starts the local backends and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/bench/benchdb"
	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
)

func main() {
	writerDSN := flag.String("writer-dsn", os.Getenv(backends.EnvMySQLAdminDSN), "admin DSN of the server holding the writer's database")
	endpoint := flag.String("dynamodb", os.Getenv(backends.EnvDynamoDBEndpoint), "DynamoDB endpoint of the journal (dynalite)")
	total := flag.Int("payments", 1_000_000, "payments the old writer acknowledged")
	lost := flag.Int("lost", 400, "newest payments the new writer lacks (about 4 s at 100 payments/s)")
	every := flag.Duration("every", 10*time.Millisecond, "time between two payments (10 ms: 100 payments/s)")
	flag.Parse()
	if *writerDSN == "" || *endpoint == "" || *lost > *total {
		log.Fatal("need -writer-dsn (an admin DSN of a MariaDB/MySQL server), -dynamodb (a DynamoDB endpoint such as dynalite) and -lost <= -payments")
	}
	ctx := context.Background()
	name := fmt.Sprintf("bench_replay_%d", time.Now().Unix())
	db, _, err := benchdb.Create(ctx, *writerDSN, name)
	check(err)
	defer benchdb.Drop(db, name)

	end := time.Now().UTC().Truncate(time.Second)
	first := end.Add(-time.Duration(*total-1) * *every)
	pay := func(i int) payments.Payment { return benchdb.Payment(i, first, *every) }
	t := time.Now()
	check(benchdb.Load(ctx, db, pay, 0, *total-*lost))
	fmt.Printf("loaded %d payments into the writer (each with 2 ledger lines and an outbox row) in %s\n", *total-*lost, time.Since(t).Round(time.Second))

	ddb := backends.DynamoDB(*endpoint, "us-east-1")
	jtable, stable := name+"-journal", name+"-sessions"
	check(backends.CreateJournalTable(ctx, ddb, jtable))
	check(backends.CreateSessionTable(ctx, ddb, stable))
	j := &claims.Journal{Client: ddb, Table: jtable}
	moveAt := end.Add(*every)
	// The old writer's newest mark the new writer holds is as old as its
	// newest replicated payment; the window starts that far back, less
	// the longest a claim takes to commit (payments.ReplayWindowAfter).
	mark := first.Add(time.Duration(*total-*lost-1) * *every)
	from := mark.Add(-payments.ClaimCommitDeadline - payments.ReplaySlack)
	firstClaim := max(0, int(from.Sub(first) / *every))
	t = time.Now()
	check(claim(ctx, j, pay, firstClaim, *total))
	fmt.Printf("claimed the window's %d payments (%s .. %s) in the journal in %s\n", *total-firstClaim, from.Format(time.RFC3339), end.Format(time.RFC3339), time.Since(t).Round(time.Second))

	store := mysqlstore.New(db)
	svc := &payments.Service{Store: store, Sessions: &dynamo.Sessions{Client: ddb, Table: stable}, Region: "us-west-2",
		Journal: paymentclaims.Journal{J: j}}
	t = time.Now()
	r, err := benchdb.Replay(ctx, svc, from, moveAt)
	check(err)
	replayed, present, released, calls := r.Replayed, r.Present, r.Released, r.Calls
	took := time.Since(t)
	var n int
	check(db.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n))
	fmt.Printf("replay of %s (%d chunks, %d calls) with %d payments in the writer: replayed %d, present %d, released %d in %s; writer now holds %d\n",
		moveAt.Sub(from), int(moveAt.Sub(from)/dr.ReplayChunk)+1, calls, *total-*lost, replayed, present, released, took.Round(time.Millisecond), n)
	if replayed != *lost || n != *total {
		log.Fatalf("replayed %d, want the %d lost payments; the writer holds %d, want %d", replayed, *lost, n, *total)
	}
}

// claim claims payments [from, to) in the journal, 16 at a time.
func claim(ctx context.Context, j *claims.Journal, pay func(int) payments.Payment, from, to int) error {
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p := pay(i)
				_, err := j.Claim(ctx, claims.Claim{Key: p.IdempotencyKey, PaymentID: p.ID, RequestHash: benchdb.RequestHash, Amount: p.Amount,
					Currency: p.Currency, MerchantRef: p.MerchantRef, CustomerRef: p.CustomerRef, SessionID: p.SessionID,
					Status: claims.StatusProcessed, Region: p.Region, ClaimedAt: p.CreatedAt})
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return first
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
