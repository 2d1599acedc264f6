package claims

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/backends"
)

// delayed adds a round trip to every call, as an MRSC write or strongly
// consistent read pays the way to the nearest other member (about 12 ms
// from us-east-1, 50 ms from us-west-2: docs/journal.md), and counts the
// deletes.
type delayed struct {
	API
	rtt     time.Duration
	deletes atomic.Int64
}

func (d *delayed) wait(ctx context.Context) error {
	select {
	case <-time.After(d.rtt / 2):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// roundTrip spends half the rtt before the call and half after it, as a
// request and its answer do: a caller that gives up while the answer
// travels sees an error for a write the table applied.
func roundTrip[T any](ctx context.Context, d *delayed, call func() (T, error)) (T, error) {
	var zero T
	if err := d.wait(ctx); err != nil {
		return zero, err
	}
	out, err := call()
	if werr := d.wait(ctx); werr != nil {
		return zero, werr
	}
	return out, err
}

func (d *delayed) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return roundTrip(ctx, d, func() (*dynamodb.DeleteItemOutput, error) {
		d.deletes.Add(1)
		return d.API.DeleteItem(context.WithoutCancel(ctx), in, opts...)
	})
}

func (d *delayed) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return roundTrip(ctx, d, func() (*dynamodb.QueryOutput, error) {
		return d.API.Query(ctx, in, opts...)
	})
}

// claimMinutes claims perMinute keys in each of minutes minutes from
// start, 16 at a time.
func claimMinutes(tb testing.TB, j *Journal, start time.Time, minutes, perMinute int) {
	tb.Helper()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var failed atomic.Value
	for m := range minutes {
		for i := range perMinute {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				at := start.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Millisecond)
				if _, err := j.Claim(context.Background(), newClaim(fmt.Sprintf("m%d-%d-%d", start.UnixNano(), m, i), at)); err != nil {
					failed.Store(err)
				}
			}()
		}
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		tb.Fatal(err)
	}
}

// A sweep whose invocation ends before it is through stops SweepMargin
// before the deadline with what it removed, its cursor at the last
// minute it finished, and no error; the next run continues there.
func TestSweepStopsAtItsDeadlineWithTheCursorSaved(t *testing.T) {
	j, _ := dynaliteJournal(t)
	now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	retention := 72 * time.Hour
	first := now.Add(-retention).Truncate(time.Minute).Add(-20 * time.Minute)
	claimMinutes(t, j, first, 20, 40)
	slow := &delayed{API: j.Client, rtt: 20 * time.Millisecond}
	j.Client, j.SweepLookback, j.SweepConcurrency, j.SweepMargin = slow, 20*time.Minute, 4, 300*time.Millisecond

	// 800 claims, 4 at a time at 20 ms each, take at least 4 s: more than
	// the 2.7 s the sweep has.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := j.Sweep(ctx, now, retention)
	if err != nil {
		t.Fatalf("sweep out of time: %v (removed %d, through %s); want its progress and no error", err, res.Removed, res.Through)
	}
	if ctx.Err() != nil {
		t.Error("the sweep returned after its deadline")
	}
	if res.Removed == 0 || res.Removed >= 800 || res.CaughtUp {
		t.Fatalf("sweep %+v: want part of the 800 claims removed and not caught up", res)
	}
	if !res.Through.After(first) || !res.Through.Before(first.Add(20*time.Minute)) {
		t.Errorf("through %s, want a minute after %s and before the last", res.Through, first)
	}
	cur, err := j.cursor(context.Background())
	if err != nil || !cur.Equal(res.Through) {
		t.Errorf("cursor %s (%v), want %s", cur, err, res.Through)
	}
	if got := windowKeys(t, j, first, res.Through.Add(-time.Nanosecond)); len(got) != 0 {
		t.Errorf("%d time items left before the cursor", len(got))
	}
	if left := windowKeys(t, j, first, first.Add(20*time.Minute)); len(left) != 800-res.Removed {
		t.Errorf("%d claims left after a sweep that says it removed %d of 800", len(left), res.Removed)
	}

	rest, err := j.Sweep(context.Background(), now, retention)
	if err != nil || !rest.CaughtUp || res.Removed+rest.Removed != 800 {
		t.Errorf("next sweep %+v, %v: want the other %d claims and caught up", rest, err, 800-res.Removed)
	}
}

// Time items of the unsharded layout (one partition key per minute,
// written before the sharding) are read by Window and removed by Sweep
// for as long as the retention keeps them.
func TestUnshardedTimeItemsAreReadAndSwept(t *testing.T) {
	j, client := dynaliteJournal(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	retention := 72 * time.Hour
	old := newClaim("written-before", now.Add(-retention-2*time.Minute))
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.Table), Item: old.item(claimKey(old.Key))}); err != nil {
		t.Fatal(err)
	}
	legacy := map[string]types.AttributeValue{"pk": s(legacyMinutePK(old.ClaimedAt)), "sk": timeKey(old)["sk"]}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.Table), Item: old.item(legacy)}); err != nil {
		t.Fatal(err)
	}
	if got := windowKeys(t, j, old.ClaimedAt, old.ClaimedAt); len(got) != 1 || got[0] != old.Key {
		t.Fatalf("window %q, want the unsharded item's claim", got)
	}
	j.SweepLookback = 10 * time.Minute
	res, err := j.Sweep(ctx, now, retention)
	if err != nil || res.Removed != 1 {
		t.Fatalf("sweep %+v, %v; want the old claim removed", res, err)
	}
	if _, found, _ := j.Get(ctx, old.Key); found {
		t.Error("the old claim item was kept")
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(j.Table), Key: legacy})
	if err != nil || len(out.Item) != 0 {
		t.Errorf("the unsharded time item was kept: %v %v", out.Item, err)
	}
}

// BenchmarkSweepRate measures the claims one Region's sweep deletes per
// minute against dynalite with a round trip added to every delete and
// Query (12 ms: us-east-1's nearest MRSC member; 50 ms: us-west-2's).
// go test -run - -bench SweepRate -benchtime 1x ./internal/journal/
func BenchmarkSweepRate(b *testing.B) {
	const claims = 3000
	for _, rtt := range []time.Duration{0, 12 * time.Millisecond, 50 * time.Millisecond} {
		b.Run("rtt="+rtt.String(), func(b *testing.B) {
			var swept time.Duration
			for range b.N {
				b.StopTimer()
				c, table := backends.JournalTable(b)
				j := &Journal{Client: c, Table: table}
				now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
				claimMinutes(b, j, now.Add(-time.Hour).Truncate(time.Minute).Add(-2*time.Minute), 2, claims/2)
				j.Client, j.SweepLookback = &delayed{API: c, rtt: rtt}, 2*time.Minute
				b.StartTimer()
				t0 := time.Now()
				res, err := j.Sweep(context.Background(), now, time.Hour)
				swept += time.Since(t0)
				if err != nil || res.Removed != claims {
					b.Fatalf("sweep %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(claims*b.N)/swept.Minutes(), "claims/min")
		})
	}
}

// queryCount counts the Queries a journal sends.
type queryCount struct {
	API
	n atomic.Int64
}

func (q *queryCount) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	q.n.Add(1)
	return q.API.Query(ctx, in, opts...)
}

// A journal whose creation is recorded sweeps from there: its first
// sweep reads only the minutes since, not a day of empty ones; and the
// record never moves a cursor that exists.
func TestSweepOfANewJournalStartsAtItsCreation(t *testing.T) {
	j, _ := dynaliteJournal(t)
	q := &queryCount{API: j.Client}
	j.Client = q
	ctx := context.Background()
	created := time.Date(2026, 12, 1, 9, 0, 30, 0, time.UTC)
	if err := j.StartSweepAt(ctx, created); err != nil {
		t.Fatal(err)
	}
	if err := j.StartSweepAt(ctx, created.Add(time.Hour)); err != nil {
		t.Fatalf("recording the creation again: %v", err)
	}
	now := created.Add(weekRetention + 2*time.Minute)
	res, err := j.Sweep(ctx, now, weekRetention)
	if err != nil || !res.CaughtUp {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	if max := int64(3 * (TimeShards + 1)); q.n.Load() > max {
		t.Errorf("the first sweep of a journal created at %s sent %d Queries, want at most %d (the minutes since)", created, q.n.Load(), max)
	}
	if want := now.Add(-weekRetention).Truncate(time.Minute); !res.Through.Equal(want) {
		t.Errorf("swept through %s, want %s (a second record moved the cursor?)", res.Through, want)
	}
}

// weekRetention is the service's default retention
// (payments.DefaultJournalRetention), which this package does not import.
const weekRetention = 7 * 24 * time.Hour
