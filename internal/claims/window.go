package claims

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// PageSize is the Limit of one Query page.
const PageSize = 500

// Window calls fn for each claim made in [from, to], read from the time
// items with strongly consistent Queries, one minute at a time, the
// minute's shards in parallel: minutes come in order, the claims of one
// minute in no particular order. fn is called by one goroutine at a time.
// Its cost grows with the window, never with the journal. A time item
// only says a claim was attempted: whether the key is still claimed for
// its payment is for the caller to check (Get).
func (j *Journal) Window(ctx context.Context, from, to time.Time, fn func(Claim) error) error {
	from, to = from.UTC(), to.UTC()
	if to.Before(from) {
		return fmt.Errorf("journal window: to %s is before from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	var mu sync.Mutex
	for m := from.Truncate(time.Minute); !m.After(to); m = m.Add(time.Minute) {
		err := j.eachPK(ctx, m, func(ctx context.Context, pk string) error {
			return j.partition(ctx, pk, func(it map[string]types.AttributeValue) error {
				c, err := decode(it)
				if err != nil || c.ClaimedAt.Before(from) || c.ClaimedAt.After(to) {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				return fn(c)
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eachPK runs fn for every partition key of minute m's time items, in
// parallel; the first error cancels the others.
func (j *Journal) eachPK(ctx context.Context, m time.Time, fn func(context.Context, string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, pk := range minutePKs(m) {
		g.Go(func() error { return fn(gctx, pk) })
	}
	return g.Wait()
}

// Sort keys bounding every time item of a partition. RFC 3339 with
// trimmed fractions does not sort in time order within a second, so a
// partition is read whole and the window's edges are compared as times.
const (
	skLow  = "0"
	skHigh = "~"
)

// partition pages through the time items of one partition key.
func (j *Journal) partition(ctx context.Context, pk string, fn func(map[string]types.AttributeValue) error) error {
	var start map[string]types.AttributeValue
	for {
		var out *dynamodb.QueryOutput
		err := j.retry(ctx, func() (err error) {
			out, err = j.Client.Query(ctx, &dynamodb.QueryInput{
				TableName:                 &j.Table,
				KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":from": s(skLow), ":to": s(skHigh)},
				ConsistentRead:            aws.Bool(true), Limit: aws.Int32(PageSize), ExclusiveStartKey: start,
			})
			return err
		})
		if err != nil {
			return &Error{Op: "query " + pk, Err: err}
		}
		for _, it := range out.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// Sweep bounds (defaults of the Journal's Sweep fields): a sweep without
// a cursor yet starts a day before the retention's end; one run reads at
// most a day of minutes (the next run continues) and stops
// DefaultSweepMargin before its context's deadline, so that it returns
// its progress and its cursor is saved instead of its invocation timing
// out.
//
// DefaultSweepConcurrency: a claim's two deletes run in parallel, so
// deleting one costs about one round trip to the nearest other MRSC
// member, about 12 ms from us-east-1 and 50 ms from us-west-2
// (docs/journal.md, "What it costs"). 96 at a time remove about 1,900
// claims a second at 50 ms, about 95,000 in a minute's 50 s budget: more
// than the 60,000 that 1,000 payments a second claim. A time item's
// delete costs its partition a write unit, so at most
// sweepPerPartition deletes of one partition key are in flight: about
// 330 a second at 12 ms, a third of a partition's 1,000 write units
// (awslimits.DynamoDBPartitionWrites), also for the unsharded partitions
// of items written before the sharding.
const (
	DefaultSweepLookback    = 24 * time.Hour
	DefaultSweepBatch       = 24 * 60
	DefaultSweepConcurrency = 96
	DefaultSweepMargin      = 5 * time.Second
	sweepPerPartition       = 4
)

// SweepResult is what one Sweep removed.
type SweepResult struct {
	Removed int       // claims removed
	Through time.Time // every minute before this one is swept
	// CaughtUp: every claim made before now − retention is removed.
	// Otherwise the run stopped at its time budget or its batch and the
	// next one continues from Through.
	CaughtUp bool
}

// Sweep removes the claims made before now − retention: MRSC tables have
// no TTL. It walks the minutes from a cursor item (so a run costs the
// claims it removes, not the journal) and deletes each claim item that
// still belongs to the time item's payment, then the time item,
// SweepConcurrency claims at a time. It stops SweepMargin before ctx's
// deadline with the cursor at the last minute it finished: running out
// of time is progress, not an error. One Region sweeps at a time (the
// caller decides which): two sweeping at once would delete the same
// claims twice.
func (j *Journal) Sweep(ctx context.Context, now time.Time, retention time.Duration) (SweepResult, error) {
	if retention <= 0 {
		return SweepResult{}, fmt.Errorf("journal sweep: retention must be positive, got %s", retention)
	}
	end := now.UTC().Add(-retention).Truncate(time.Minute)
	cur, err := j.cursor(ctx)
	if err != nil {
		return SweepResult{}, err
	}
	lookback, batch := j.SweepLookback, j.SweepBatch
	if lookback <= 0 {
		lookback = DefaultSweepLookback
	}
	if batch <= 0 {
		batch = DefaultSweepBatch
	}
	if cur.IsZero() {
		cur = end.Add(-lookback)
	}
	budget, cancel := j.sweepBudget(ctx)
	defer cancel()
	res := SweepResult{Through: cur}
	for n := 0; cur.Before(end) && n < batch && budget.Err() == nil; n++ {
		removed, err := j.sweepMinute(ctx, budget, cur)
		res.Removed += removed
		if err != nil && budget.Err() != nil && ctx.Err() == nil {
			break // out of time within this minute: the next run repeats it
		}
		if err != nil {
			return res, err
		}
		cur = cur.Add(time.Minute)
		if err := j.setCursor(ctx, cur); err != nil {
			return res, err
		}
		res.Through = cur
	}
	res.CaughtUp = !cur.Before(end)
	return res, nil
}

// sweepBudget is ctx ending SweepMargin before ctx's deadline.
func (j *Journal) sweepBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := j.SweepMargin
	if margin <= 0 {
		margin = DefaultSweepMargin
	}
	return context.WithDeadline(ctx, deadline.Add(-margin))
}

// sweepMinute removes every claim of minute m, reading its partitions in
// parallel and deleting SweepConcurrency claims at a time. It starts no
// read or delete after budget ends, but a delete already sent finishes
// under ctx (the invocation's own deadline, SweepMargin later): one cut
// at the budget would leave a claim removed without its time item, or
// removed on the server and missing from the count.
func (j *Journal) sweepMinute(ctx, budget context.Context, m time.Time) (int, error) {
	limit := j.SweepConcurrency
	if limit <= 0 {
		limit = DefaultSweepConcurrency
	}
	deletes, dctx := errgroup.WithContext(ctx)
	deletes.SetLimit(limit)
	qctx, stopReads := context.WithCancel(budget)
	defer stopReads()
	stopOnDeleteError := context.AfterFunc(dctx, stopReads)
	defer stopOnDeleteError()
	var removed atomic.Int64
	qerr := j.eachPK(qctx, m, func(qctx context.Context, pk string) error {
		inFlight := make(chan struct{}, sweepPerPartition)
		return j.partition(qctx, pk, func(it map[string]types.AttributeValue) error {
			c, err := decode(it)
			if err != nil {
				return err
			}
			tk := map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}
			select {
			case inFlight <- struct{}{}:
			case <-qctx.Done():
				return qctx.Err()
			}
			if qctx.Err() != nil {
				<-inFlight
				return qctx.Err()
			}
			deletes.Go(func() error {
				defer func() { <-inFlight }()
				if err := j.releaseAt(dctx, c, tk); err != nil {
					return err
				}
				removed.Add(1)
				return nil
			})
			return nil
		})
	})
	derr := deletes.Wait()
	if derr != nil && (qerr == nil || errors.Is(qerr, context.Canceled)) {
		qerr = nil // the deletes' error cancelled the reads: report it
	}
	return int(removed.Load()), errors.Join(derr, qerr)
}

var cursorKey = map[string]types.AttributeValue{"pk": s("sweep"), "sk": s("cursor")}

func (j *Journal) cursor(ctx context.Context) (time.Time, error) {
	out, err := j.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &j.Table, Key: cursorKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return time.Time{}, &Error{Op: "read sweep cursor", Err: err}
	}
	v, ok := out.Item["through"].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("journal sweep cursor %q: %w", v.Value, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// setCursor records the swept minute.
func (j *Journal) setCursor(ctx context.Context, through time.Time) error {
	item := map[string]types.AttributeValue{"through": &types.AttributeValueMemberN{Value: strconv.FormatInt(through.Unix(), 10)}}
	for k, v := range cursorKey {
		item[k] = v
	}
	err := j.retry(ctx, func() error {
		_, err := j.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &j.Table, Item: item})
		return err
	})
	if err != nil {
		return &Error{Op: "move sweep cursor", Err: err}
	}
	return nil
}

// StartSweepAt records that nothing was claimed in the journal before
// created (a journal made then): its sweep starts there, instead of
// walking DefaultSweepLookback of empty minutes, TimeShards+1 Queries
// each, on its first run. A cursor that exists is left as it is (the
// put is conditional), so calling it on a journal in use changes nothing.
func (j *Journal) StartSweepAt(ctx context.Context, created time.Time) error {
	item := map[string]types.AttributeValue{"through": &types.AttributeValueMemberN{Value: strconv.FormatInt(created.UTC().Truncate(time.Minute).Unix(), 10)}}
	for k, v := range cursorKey {
		item[k] = v
	}
	err := j.retry(ctx, func() error {
		_, err := j.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &j.Table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
		return err
	})
	var exists *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &exists) {
		return &Error{Op: "start sweep cursor", Err: err}
	}
	return nil
}
