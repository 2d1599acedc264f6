package claims

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Writer is the journal's writer record: the one Region whose payment
// service may claim keys, and its epoch. A move writes it (a conditional
// put on the epoch) before the database is promoted, so it fences the old
// Region through the same majority every claim needs, whatever Lambda's
// concurrency or Aurora's fencing did.
type Writer struct {
	Region string
	Epoch  int64
	SetAt  time.Time // the mover's clock, for people
	SetBy  string    // what set it: "drctl switchover", "service bootstrap", ...
}

// WriterLease is the longest a service acts on one confirmation that it
// is the writer: it answers a payment only if its last strongly
// consistent read of the writer record started less than WriterLease
// before (and reads again otherwise). A move that wrote a new epoch
// therefore waits WriterLease (measured on its own clock from when the
// write returned) before it reads the claims to replay: afterwards no
// request of the old Region can acknowledge a payment. It is a contract
// between the service and drctl.
const WriterLease = 3 * time.Second

// WriterRecheck is how old a confirmation may be before a claim reads
// the writer record again: below WriterLease, so a request rarely needs a
// second read before it answers.
const WriterRecheck = time.Second

// ErrEpochMoved: the writer record's epoch is not the one a SetWriter
// expected (another move, or a service's bootstrap, wrote it first).
var ErrEpochMoved = errors.New("the journal's writer epoch moved")

const writerKey = "writer"

func writerItemKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(writerKey), "sk": s(writerKey)}
}

// ReadWriter reads the writer record with a strongly consistent read
// (found false: no move or bootstrap has written one yet).
func (j *Journal) ReadWriter(ctx context.Context) (Writer, bool, error) {
	var out *dynamodb.GetItemOutput
	err := j.retry(ctx, func() (err error) {
		out, err = j.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &j.Table, Key: writerItemKey(), ConsistentRead: aws.Bool(true)})
		return err
	})
	if err != nil {
		return Writer{}, false, &Error{Op: "read writer", Err: err}
	}
	if len(out.Item) == 0 {
		return Writer{}, false, nil
	}
	w, err := decodeWriter(out.Item)
	return w, err == nil, err
}

func decodeWriter(it map[string]types.AttributeValue) (Writer, error) {
	str := func(name string) string {
		if v, ok := it[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	var w Writer
	var err error
	if v, ok := it["epoch"].(*types.AttributeValueMemberN); ok {
		w.Epoch, err = strconv.ParseInt(v.Value, 10, 64)
	}
	w.Region, w.SetBy = str("region"), str("setBy")
	w.SetAt, _ = time.Parse(time.RFC3339Nano, str("setAt"))
	if err != nil || w.Region == "" || w.Epoch <= 0 {
		return Writer{}, fmt.Errorf("the journal's writer record is malformed (region %q, epoch %v): %v", w.Region, it["epoch"], err)
	}
	return w, nil
}

// SetWriter makes region the writer at epoch prev+1, only if the record's
// epoch is still prev (0: no record yet): a conditional PutItem, refused
// with ConditionalCheckFailedException when the condition is false
// (DynamoDB API Reference, PutItem "Errors"), and on an MRSC table
// evaluated against the item as the majority holds it (developer guide,
// "Multi-Region strong consistency"), so two movers cannot both win. A
// put whose answer was lost is recognised on the read that follows: the
// record then names region at prev+1. Another epoch there is
// ErrEpochMoved, with the record found.
func (j *Journal) SetWriter(ctx context.Context, region string, prev int64, setBy string, now time.Time) (Writer, error) {
	w := Writer{Region: region, Epoch: prev + 1, SetAt: now.UTC(), SetBy: setBy}
	item := map[string]types.AttributeValue{
		"region": s(region), "epoch": &types.AttributeValueMemberN{Value: strconv.FormatInt(w.Epoch, 10)},
		"setAt": s(w.SetAt.Format(time.RFC3339Nano)), "setBy": s(setBy),
	}
	for k, v := range writerItemKey() {
		item[k] = v
	}
	cond, vals := "attribute_not_exists(pk)", map[string]types.AttributeValue(nil)
	if prev > 0 {
		cond = "epoch = :prev"
		vals = map[string]types.AttributeValue{":prev": &types.AttributeValueMemberN{Value: strconv.FormatInt(prev, 10)}}
	}
	var open attemptOutcomes
	err := j.put(ctx, item, cond, vals, &open)
	var moved *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return w, nil
	case !errors.As(err, &moved):
		return Writer{}, j.settled(&Error{Op: "set writer", Err: err}, &open)
	}
	cur, found, gerr := j.ReadWriter(ctx)
	switch {
	case gerr != nil:
		return Writer{}, j.settled(gerr, &open)
	case found && cur.Region == region && cur.Epoch == w.Epoch:
		return cur, nil // an earlier attempt of this put
	case !found:
		return Writer{}, fmt.Errorf("%w: expected epoch %d, found no writer record", ErrEpochMoved, prev)
	}
	return cur, fmt.Errorf("%w: expected epoch %d, found %s at epoch %d (set %s by %s)", ErrEpochMoved, prev, cur.Region, cur.Epoch, cur.SetAt.Format(time.RFC3339), orNone(cur.SetBy))
}

func orNone(s string) string {
	if s == "" {
		return "an unknown writer"
	}
	return s
}

// WriterAPI is what the writer record needs of DynamoDB: drctl holds
// only GetItem and PutItem on the journal table.
type WriterAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// WriterRecordOf is a Journal for ReadWriter and SetWriter alone, over a
// client with only GetItem and PutItem; its other calls fail.
func WriterRecordOf(client WriterAPI, table string) *Journal {
	return &Journal{Client: writerOnly{client}, Table: table}
}

var errWriterOnly = errors.New("journal: this client reads and moves the writer record only")

type writerOnly struct{ WriterAPI }

func (writerOnly) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errWriterOnly
}

func (writerOnly) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, errWriterOnly
}
