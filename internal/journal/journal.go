// Package journal claims idempotency keys in a DynamoDB global table with
// multi-Region strong consistency (MRSC). A claim returns only once it is
// durable in a majority of the table's Regions, so every payment the
// service acknowledges survives the loss of any one Region, and a key
// retried in another Region finds its claim.
//
// It uses only PutItem, GetItem, DeleteItem and Query: MRSC tables offer
// no transactions and no TTL (DynamoDB developer guide, "Multi-Region
// strong consistency"), so a claim is two conditional puts written in
// parallel (the claim item, keyed by the idempotency key, and a time item,
// keyed by the minute and a shard, for the failover's window and the
// retention sweep), and expired claims are deleted by Sweep.
package journal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// API is the part of the DynamoDB client the journal uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Decisions recorded with a claim.
const (
	StatusProcessed = "processed"
	StatusDeclined  = "declined"
)

// Claim is everything needed to recreate a claimed payment.
type Claim struct {
	Key           string // the idempotency key
	PaymentID     string
	RequestHash   string
	Amount        int64
	Currency      string
	MerchantRef   string
	CustomerRef   string
	SessionID     string
	Status        string // StatusProcessed or StatusDeclined
	FailureReason string // why a declined payment was declined
	Region        string // where it was claimed
	ClaimedAt     time.Time
}

// Errors of the journal.
var (
	// ErrUnavailable: the journal did not answer (no majority, network,
	// throttling past the retries). Nothing of the request is in the
	// journal: a claim whose attempts (the SDK's retries included) were
	// all refused or never sent, or one that was undone.
	ErrUnavailable = errors.New("journal unavailable")
	// ErrOutcomeUnknown: a write was sent but whether it is in the
	// journal could not be established, and undoing it failed too.
	ErrOutcomeUnknown = errors.New("journal outcome unknown")
)

// Error wraps a failed journal call; errors.Is(err, ErrUnavailable) holds.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "journal unavailable: " + e.Op + ": " + e.Err.Error() }

// Unwrap exposes the SDK's error and ErrUnavailable.
func (e *Error) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Journal is one Region's client of the journal table.
type Journal struct {
	Client API
	Table  string
	// ConflictAttempts bounds the attempts of a write that meets a
	// ReplicatedWriteConflictException (default 5); ConflictBackoff is the
	// first wait, doubled per attempt, with full jitter (default 10 ms).
	ConflictAttempts int
	ConflictBackoff  time.Duration
	// SweepLookback and SweepBatch bound Sweep (defaults
	// DefaultSweepLookback, DefaultSweepBatch); SweepConcurrency is how
	// many claims it deletes at once (default DefaultSweepConcurrency);
	// SweepMargin is the time a sweep leaves before its context's
	// deadline (default DefaultSweepMargin).
	SweepLookback    time.Duration
	SweepBatch       int
	SweepConcurrency int
	SweepMargin      time.Duration
}

// Item keys of the contract with the lab's stand-in (docs/journal.md).
const (
	claimPrefix  = "claim#"
	minutePrefix = "minute#"
	claimSK      = "claim"
	healthKey    = "health"
	minuteLayout = "2006-01-02T15:04"
)

// TimeShards is how many partition keys one minute's time items are
// spread over: pk minute#<minute>#<shard>, the shard a hash of the
// idempotency key, so Release and Sweep find the item again. DynamoDB
// limits one partition to 1,000 write units a second
// (awslimits.DynamoDBPartitionWrites); every claim writes its time item
// (one unit: the items are under 1 KB) and a released claim deletes it
// (one more), so 1,000 claims a second cost at most 2,000 units in the
// current minute, 63 per shard: 16 times headroom, and room for a
// Region's claims plus the peer's during a switchover. The count is part
// of the item layout: changing it needs readers of both layouts.
const TimeShards = 32

func encKey(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func claimKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(claimPrefix + encKey(key)), "sk": s(claimSK)}
}

// shardOf is the time item's shard of an idempotency key (FNV-1a).
func shardOf(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % TimeShards)
}

// minutePK is the partition key of shard's time items of minute m.
func minutePK(m time.Time, shard int) string {
	return minutePrefix + m.UTC().Format(minuteLayout) + "#" + fmt.Sprintf("%02d", shard)
}

// legacyMinutePK is the one partition key per minute written before the
// time items were sharded. A deployed journal holds such items for up to
// its retention after the change: Window and Sweep still read it (one
// Query per minute, empty once the retention has passed).
func legacyMinutePK(m time.Time) string { return minutePrefix + m.UTC().Format(minuteLayout) }

// minutePKs is every partition key holding time items of minute m.
func minutePKs(m time.Time) []string {
	pks := make([]string, 0, TimeShards+1)
	for shard := range TimeShards {
		pks = append(pks, minutePK(m, shard))
	}
	return append(pks, legacyMinutePK(m))
}

func timeKey(key string, at time.Time) map[string]types.AttributeValue {
	at = at.UTC()
	return map[string]types.AttributeValue{
		"pk": s(minutePK(at, shardOf(key))),
		"sk": s(at.Format(time.RFC3339Nano) + "#" + encKey(key)),
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func (c Claim) item(key map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"key":         &types.AttributeValueMemberB{Value: []byte(c.Key)},
		"paymentId":   s(c.PaymentID),
		"requestHash": s(c.RequestHash),
		"amount":      &types.AttributeValueMemberN{Value: strconv.FormatInt(c.Amount, 10)},
		"currency":    s(c.Currency),
		"merchantRef": s(c.MerchantRef),
		"customerRef": s(c.CustomerRef),
		"sessionId":   s(c.SessionID),
		"status":      s(c.Status),
		"region":      s(c.Region),
		"claimedAt":   s(c.ClaimedAt.UTC().Format(time.RFC3339Nano)),
	}
	if c.FailureReason != "" {
		it["failureReason"] = s(c.FailureReason)
	}
	for k, v := range key {
		it[k] = v
	}
	return it
}

func decode(it map[string]types.AttributeValue) (Claim, error) {
	str := func(name string) string {
		if v, ok := it[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	var c Claim
	if v, ok := it["key"].(*types.AttributeValueMemberB); ok {
		c.Key = string(v.Value)
	}
	c.PaymentID, c.RequestHash, c.Currency = str("paymentId"), str("requestHash"), str("currency")
	c.MerchantRef, c.CustomerRef, c.SessionID = str("merchantRef"), str("customerRef"), str("sessionId")
	c.Status, c.FailureReason, c.Region = str("status"), str("failureReason"), str("region")
	var err error
	if v, ok := it["amount"].(*types.AttributeValueMemberN); ok {
		c.Amount, err = strconv.ParseInt(v.Value, 10, 64)
	}
	if err == nil {
		c.ClaimedAt, err = time.Parse(time.RFC3339Nano, str("claimedAt"))
	}
	if err != nil || c.Key == "" || c.PaymentID == "" {
		return Claim{}, fmt.Errorf("journal item %v is not a claim: %v", it["pk"], err)
	}
	return c, nil
}

// Claimed is what Claim found for a key.
type Claimed struct {
	Claim Claim
	New   bool // this call claimed the key; otherwise Claim is the holder's
}

// Claim claims c.Key for c. It returns once both the claim item and the
// time item are durable in a majority of the Regions (New), or the claim
// that already holds the key (read with a strongly consistent read).
// An error wrapping ErrUnavailable means nothing of c stays in the
// journal; ErrOutcomeUnknown means a write may stand and could not be
// undone.
func (j *Journal) Claim(ctx context.Context, c Claim) (Claimed, error) {
	cond := aws.String("attribute_not_exists(pk)")
	var claimOpen, timeOpen attemptOutcomes
	put := func(key map[string]types.AttributeValue, open *attemptOutcomes) <-chan error {
		out := make(chan error, 1)
		go func() {
			out <- j.retry(ctx, func() error {
				_, err := j.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &j.Table, Item: c.item(key), ConditionExpression: cond}, open.record)
				return err
			})
		}()
		return out
	}
	claimErr, timeErr := put(claimKey(c.Key), &claimOpen), put(timeKey(c.Key, c.ClaimedAt), &timeOpen)
	cerr, terr := <-claimErr, <-timeErr
	var taken *types.ConditionalCheckFailedException
	if errors.As(terr, &taken) {
		// The sort key names this claim's key and time: the item is this
		// claim's own, written by an attempt whose answer was lost and
		// retried by the SDK.
		terr = nil
	}
	if errors.As(cerr, &taken) {
		held, found, err := j.Get(ctx, c.Key)
		switch {
		case err != nil:
			return Claimed{}, err
		case !found:
			return Claimed{}, &Error{Op: "claim", Err: errors.New("the key's claim was released while it was read; retry")}
		case held.PaymentID != c.PaymentID:
			// Another payment holds the key: ours must leave no time item.
			if terr == nil {
				if err := j.deleteTime(ctx, timeKey(c.Key, c.ClaimedAt)); err != nil {
					return Claimed{}, err
				}
			}
			return Claimed{Claim: held}, nil
		}
		cerr = nil // this claim's own item, as above
	}
	if cerr == nil && terr == nil {
		return Claimed{Claim: c, New: true}, nil
	}
	failed := &Error{Op: "claim", Err: errors.Join(cerr, terr)}
	if rejected(cerr) && rejected(terr) && !claimOpen.open.Load() && !timeOpen.open.Load() {
		return Claimed{}, failed
	}
	// A write stands or may stand: undo both, so that a "not applied"
	// answer stays true after a failover's replay.
	if err := j.Release(ctx, c); err != nil {
		return Claimed{}, fmt.Errorf("%w: %v; undoing it: %v", ErrOutcomeUnknown, failed, err)
	}
	return Claimed{}, failed
}

// rejected reports whether one attempt of a write certainly did not
// happen: it was never sent (no connection), or DynamoDB refused it with
// a client fault (HTTP 4xx: throttling, validation, access, a write
// conflict — DynamoDB developer guide, "Error handling with DynamoDB";
// API Reference, PutItem "Errors"). A server fault (HTTP 5xx) or a
// timeout leaves the outcome open.
func rejected(err error) bool {
	if err == nil {
		return false
	}
	var dial *net.OpError
	if errors.As(err, &dial) && dial.Op == "dial" {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorFault() != smithy.FaultUnknown {
		return api.ErrorFault() == smithy.FaultClient
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() >= 400 && status.HTTPStatusCode() < 500
}

// attemptOutcomes watches every attempt of a write, the SDK's retries
// included: "When you receive a status code 500 on a write operation,
// the operation may have succeeded or failed" (DynamoDB developer guide,
// "Error handling with DynamoDB"), so a write whose last attempt was
// refused may still stand when an earlier one was answered 5xx or timed
// out.
type attemptOutcomes struct{ open atomic.Bool }

// record is the per-call option: a middleware after the SDK's retry
// middleware ("Retry"), so it sees each attempt's error.
func (a *attemptOutcomes) record(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("JournalAttemptOutcome",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				if err != nil && !rejected(err) {
					a.open.Store(true)
				}
				return out, md, err
			}), "Retry", middleware.After)
	})
}

// Get reads the claim of key with a strongly consistent read.
func (j *Journal) Get(ctx context.Context, key string) (Claim, bool, error) {
	var out *dynamodb.GetItemOutput
	err := j.retry(ctx, func() (err error) {
		out, err = j.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &j.Table, Key: claimKey(key), ConsistentRead: aws.Bool(true)})
		return err
	})
	if err != nil {
		return Claim{}, false, &Error{Op: "get", Err: err}
	}
	if len(out.Item) == 0 {
		return Claim{}, false, nil
	}
	c, err := decode(out.Item)
	return c, err == nil, err
}

// Release removes c's claim and time item, if the key is still claimed
// for c.PaymentID: a claim whose payment was not applied. A key held by
// another payment, or not at all, is left as it is.
func (j *Journal) Release(ctx context.Context, c Claim) error {
	return j.releaseAt(ctx, c, timeKey(c.Key, c.ClaimedAt))
}

// releaseAt is Release with the time item's key given (Sweep deletes
// items of the unsharded layout too).
func (j *Journal) releaseAt(ctx context.Context, c Claim, tk map[string]types.AttributeValue) error {
	claimErr := make(chan error, 1)
	go func() {
		claimErr <- j.retry(ctx, func() error {
			_, err := j.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName: &j.Table, Key: claimKey(c.Key),
				ConditionExpression:       aws.String("paymentId = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(c.PaymentID)},
			})
			return err
		})
	}()
	terr := j.deleteTime(ctx, tk)
	cerr := <-claimErr
	var notOurs *types.ConditionalCheckFailedException
	if errors.As(cerr, &notOurs) {
		cerr = nil
	}
	if cerr != nil {
		return &Error{Op: "release", Err: cerr}
	}
	return terr
}

// deleteTime removes the time item at tk (its sort key names one claim's
// key and time, so it is that claim's alone).
func (j *Journal) deleteTime(ctx context.Context, tk map[string]types.AttributeValue) error {
	err := j.retry(ctx, func() error {
		_, err := j.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &j.Table, Key: tk})
		return err
	})
	if err != nil {
		return &Error{Op: "delete time item", Err: err}
	}
	return nil
}

// retry repeats op while it meets a ReplicatedWriteConflictException:
// "The request was rejected because one or more items in the request are
// being modified by a request in another Region" (DynamoDB API Reference,
// PutItem and DeleteItem "Errors": HTTP 400), "OK to retry? Yes"
// (developer guide, "Error handling with DynamoDB"; "How DynamoDB global
// tables work": it succeeds once the item is no longer being modified in
// another Region). The SDK's standard retryer does not retry it (a client
// fault), so the journal does, with exponential backoff and full jitter.
func (j *Journal) retry(ctx context.Context, op func() error) error {
	attempts, backoff := j.ConflictAttempts, j.ConflictBackoff
	if attempts <= 0 {
		attempts = 5
	}
	if backoff <= 0 {
		backoff = 10 * time.Millisecond
	}
	var conflict *types.ReplicatedWriteConflictException
	for i := 1; ; i++ {
		err := op()
		if err == nil || !errors.As(err, &conflict) || i == attempts {
			return err
		}
		wait := time.Duration(rand.Int64N(int64(backoff << (i - 1))))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
}

// Ping reads the health item with a strongly consistent read: it
// succeeds only when this Region reaches a majority of the journal.
func (j *Journal) Ping(ctx context.Context) error {
	_, err := j.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &j.Table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": s(healthKey), "sk": s(healthKey)}})
	if err != nil {
		return &Error{Op: "health read", Err: err}
	}
	return nil
}
