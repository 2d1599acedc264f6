package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/bench/benchdb"
	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
)

// replayMinute loads the last minute of claimed payments into a fresh
// writer database, all but every k-th (the payments replication had not
// carried over), and replays that minute as drctl does: ReplayChunk by
// ReplayChunk, each chunk sent again while its answer says more remains.
func replayMinute(ctx context.Context, o options, j *claims.Journal, c claimRun) error {
	k := max(1, int(1/o.missing+0.5))
	perMinute := min(c.offered, int(time.Minute/c.every))
	lo := c.offered - perMinute
	name := fmt.Sprintf("bench_journal_%d", time.Now().Unix())
	db, _, err := benchdb.Create(ctx, o.writerDSN, name)
	if err != nil {
		return err
	}
	defer benchdb.Drop(db, name)
	kept := func(n int) payments.Payment { return c.pay(lo + n/(k-1)*k + n%(k-1) + 1) }
	keptN, missing := 0, 0
	for i := lo; i < c.offered; i++ {
		if (i-lo)%k == 0 {
			missing++
		} else {
			keptN++
		}
	}
	if k > 1 {
		if err := benchdb.Load(ctx, db, kept, 0, keptN); err != nil {
			return err
		}
	}
	ddb := backends.DynamoDB(o.dynamoDB, west)
	sessions := name + "-sessions"
	if err := backends.CreateSessionTable(ctx, ddb, sessions); err != nil {
		return err
	}
	svc := &payments.Service{Store: mysqlstore.New(db), Sessions: &dynamo.Sessions{Client: ddb, Table: sessions}, Region: west,
		Journal: paymentclaims.Journal{J: j}}

	from, to := c.pay(lo).CreatedAt, c.pay(c.offered-1).CreatedAt
	t := time.Now()
	r, err := benchdb.Replay(ctx, svc, from, to)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	replayed, calls, chunks := r.Replayed, r.Calls, r.Chunks
	took := time.Since(t)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n); err != nil {
		return err
	}
	fmt.Printf("replay in %s of one minute (%d claims, %d missing in the writer): %s, %d chunk(s), %d call(s); replayed %d, writer holds %d of %d\n",
		west, perMinute, missing, took.Round(time.Millisecond), chunks, calls, replayed, n, perMinute)
	if replayed != missing || n != perMinute {
		return fmt.Errorf("replayed %d, want the %d missing; the writer holds %d, want %d", replayed, missing, n, perMinute)
	}
	return nil
}
