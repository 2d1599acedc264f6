package journal

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PageSize is the Limit of one Query page.
const PageSize = 500

// Window calls fn for each claim made in [from, to], in time order, read
// from the time items with strongly consistent Queries, one minute bucket
// at a time. Its cost grows with the window, never with the journal.
// A time item only says a claim was attempted: whether the key is still
// claimed for its payment is for the caller to check (Get).
func (j *Journal) Window(ctx context.Context, from, to time.Time, fn func(Claim) error) error {
	from, to = from.UTC(), to.UTC()
	if to.Before(from) {
		return fmt.Errorf("journal window: to %s is before from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	for m := from.Truncate(time.Minute); !m.After(to); m = m.Add(time.Minute) {
		err := j.minute(ctx, m, func(it map[string]types.AttributeValue) error {
			c, err := decode(it)
			if err != nil || c.ClaimedAt.Before(from) || c.ClaimedAt.After(to) {
				return err
			}
			return fn(c)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Sort keys bounding every time item of a bucket. RFC 3339 with trimmed
// fractions does not sort in time order within a second, so a bucket is
// read whole and the window's edges are compared as times.
const (
	skLow  = "0"
	skHigh = "~"
)

// minute pages through the bucket of minute m.
func (j *Journal) minute(ctx context.Context, m time.Time, fn func(map[string]types.AttributeValue) error) error {
	var start map[string]types.AttributeValue
	for {
		var out *dynamodb.QueryOutput
		err := j.retry(ctx, func() (err error) {
			out, err = j.Client.Query(ctx, &dynamodb.QueryInput{
				TableName:              &j.Table,
				KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pk": s(minutePrefix + m.Format(minuteLayout)), ":from": s(skLow), ":to": s(skHigh),
				},
				ConsistentRead: aws.Bool(true), Limit: aws.Int32(PageSize), ExclusiveStartKey: start,
			})
			return err
		})
		if err != nil {
			return &Error{Op: "query " + m.Format(minuteLayout), Err: err}
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

// Sweep bounds (defaults of Journal.SweepLookback and SweepBatch): a
// sweep without a cursor yet starts a day before the retention's end, and
// one run reads at most a day of minute buckets (the next run continues).
const (
	DefaultSweepLookback = 24 * time.Hour
	DefaultSweepBatch    = 24 * 60
)

// SweepResult is what one Sweep removed.
type SweepResult struct {
	Removed int       // claims removed
	Through time.Time // every bucket before this minute is swept
}

// Sweep removes the claims made before now − retention: MRSC tables have
// no TTL. It walks the minute buckets from a cursor item (so a run costs
// the claims it removes, not the journal) and deletes each claim item
// that still belongs to the time item's payment, then the time item.
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
	var res SweepResult
	for n := 0; cur.Before(end) && n < batch; n++ {
		err := j.minute(ctx, cur, func(it map[string]types.AttributeValue) error {
			c, err := decode(it)
			if err != nil {
				return err
			}
			if err := j.Release(ctx, c); err != nil {
				return err
			}
			res.Removed++
			return nil
		})
		if err != nil {
			return res, err
		}
		cur = cur.Add(time.Minute)
		if err := j.setCursor(ctx, cur); err != nil {
			return res, err
		}
	}
	res.Through = cur
	return res, nil
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

// setCursor records the swept minute. Two Regions sweeping at once may
// set it back by a few minutes: those buckets are empty and read again.
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
