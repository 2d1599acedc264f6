// Package claims claims idempotency keys in a DynamoDB global table with
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
package claims

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

// States of a claim. A claim is made pending; whoever makes sure its
// payment is in a database (the claiming request, a retry of the key, a
// failover's replay) marks it committed before answering, and the
// claiming request marks it aborted when its payment certainly was not
// committed. Each move is a conditional write from pending, so exactly
// one of them happens: a payment is acknowledged only with a committed
// claim, and "not applied" is answered only for an aborted one.
const (
	StatePending   = "pending"
	StateCommitted = "committed"
	StateAborted   = "aborted"
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
	// State is the claim item's state (Get and Claim). A claim written
	// before claims had states reads as committed. Claims read from the
	// time items (Window) have none: the claim item decides.
	State string
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
	// ErrAborted: Commit found the claim aborted (its request failed for
	// certain) or the key claimed for another payment.
	ErrAborted = errors.New("journal claim aborted")
	// ErrCommitted: Abort found the claim committed (a retry or a replay
	// completed its payment).
	ErrCommitted = errors.New("journal claim committed")
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
	// stateAttr holds a claim item's state ("state" is a DynamoDB
	// reserved word, so the name differs).
	stateAttr    = "claimState"
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

// timeKey is the time item of claim c: its sort key names the time, the
// key and the payment, so two attempts of one key made in the same
// instant have an item each.
func timeKey(c Claim) map[string]types.AttributeValue { return timeKeyAt(c, c.ClaimedAt) }

// timeKeyAt is a time item of claim c at instant at (Retime).
func timeKeyAt(c Claim, at time.Time) map[string]types.AttributeValue {
	at = at.UTC()
	return map[string]types.AttributeValue{
		"pk": s(minutePK(at, shardOf(c.Key))),
		"sk": s(at.Format(time.RFC3339Nano) + "#" + encKey(c.Key) + "#" + c.PaymentID),
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
	if c.State != "" {
		it[stateAttr] = s(c.State)
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
	c.Status, c.FailureReason, c.Region, c.State = str("status"), str("failureReason"), str("region"), str(stateAttr)
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

// Claim claims c.Key for c, pending. It returns once both the claim item
// and the time item are durable in a majority of the Regions (New), or
// the claim that holds the key (read with a strongly consistent read). A
// key whose claim was aborted is claimed anew. An error wrapping
// ErrUnavailable means c holds nothing in the journal (a claim item of c
// that may stand was aborted first); ErrOutcomeUnknown means it may
// hold the key, pending.
func (j *Journal) Claim(ctx context.Context, c Claim) (Claimed, error) {
	c.State = StatePending
	var claimOpen, timeOpen attemptOutcomes
	timeErr := make(chan error, 1)
	go func() {
		tc := c
		tc.State = "" // the claim item alone holds the state
		timeErr <- j.put(ctx, tc.item(timeKey(c)), "attribute_not_exists(pk)", nil, &timeOpen)
	}()
	cerr := j.put(ctx, c.item(claimKey(c.Key)), "attribute_not_exists(pk)", nil, &claimOpen)
	terr := <-timeErr
	var taken *types.ConditionalCheckFailedException
	if errors.As(terr, &taken) {
		// The sort key names this claim's payment: the item is its own,
		// written by an attempt whose answer was lost and retried by the
		// SDK.
		terr = nil
	}
	if errors.As(cerr, &taken) {
		held, own, err := j.holder(ctx, c, &claimOpen)
		if err != nil || own {
			return Claimed{Claim: held, New: own}, err
		}
		// Another payment holds the key: ours leaves no time item.
		if terr == nil {
			if err := j.deleteTime(ctx, timeKey(c)); err != nil {
				return Claimed{}, err
			}
		}
		return Claimed{Claim: held}, nil
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
	if err := j.undo(ctx, c); err != nil {
		return Claimed{}, fmt.Errorf("%w: %v; undoing it: %v", ErrOutcomeUnknown, failed, err)
	}
	return Claimed{}, failed
}

// holder settles a claim whose conditional put found the key's claim
// item: c's own (an earlier attempt of the put was applied), an aborted
// claim (replaced by c), or another payment's (returned). own reports
// that c holds the key.
func (j *Journal) holder(ctx context.Context, c Claim, claimOpen *attemptOutcomes) (held Claim, own bool, err error) {
	for range 3 {
		held, found, err := j.Get(ctx, c.Key)
		switch {
		case err != nil:
			return Claim{}, false, j.unread(ctx, c, claimOpen, err)
		case found && held.PaymentID == c.PaymentID:
			return c, true, nil
		case found && held.State != StateAborted:
			return held, false, nil
		}
		// Aborted, or swept while read: c claims the key in its place.
		cond, vals := "attribute_not_exists(pk)", map[string]types.AttributeValue(nil)
		if found {
			cond = "paymentId = :p AND " + stateAttr + " = :aborted"
			vals = map[string]types.AttributeValue{":p": s(held.PaymentID), ":aborted": s(StateAborted)}
		}
		err = j.put(ctx, c.item(claimKey(c.Key)), cond, vals, claimOpen)
		var taken *types.ConditionalCheckFailedException
		if err == nil {
			return c, true, nil
		}
		if !errors.As(err, &taken) {
			return Claim{}, false, j.unread(ctx, c, claimOpen, &Error{Op: "claim in place of an aborted claim", Err: err})
		}
	}
	return Claim{}, false, j.unread(ctx, c, claimOpen, &Error{Op: "claim", Err: errors.New("the key's claim changed under three reads")})
}

// unread ends a claim whose holder could not be established: if an
// attempt of c's claim write may have been applied, c is aborted before
// "unavailable" is answered; if that fails too, the outcome is unknown.
func (j *Journal) unread(ctx context.Context, c Claim, claimOpen *attemptOutcomes, err error) error {
	if !claimOpen.open.Load() {
		return err
	}
	if uerr := j.undo(ctx, c); uerr != nil {
		return fmt.Errorf("%w: %v; undoing the claim: %v", ErrOutcomeUnknown, err, uerr)
	}
	return err
}

// undo removes what a failed claim of c may have left: its time item,
// and its claim item if it is still pending (a conditional delete: a
// retry or a replay that found it pending and committed it first keeps
// it, and the claim's outcome is then unknown).
func (j *Journal) undo(ctx context.Context, c Claim) error {
	terr := make(chan error, 1)
	go func() { terr <- j.deleteTime(ctx, timeKey(c)) }()
	var open attemptOutcomes
	err := j.retry(ctx, func() error {
		_, err := j.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &j.Table, Key: claimKey(c.Key),
			ConditionExpression:       aws.String("paymentId = :p AND " + stateAttr + " = :pending"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(c.PaymentID), ":pending": s(StatePending)},
		}, open.record)
		return err
	})
	var decided *types.ConditionalCheckFailedException
	if errors.As(err, &decided) {
		held, found, gerr := j.Get(ctx, c.Key)
		switch {
		case gerr != nil:
			err = gerr
		case found && held.PaymentID == c.PaymentID && held.State == StateCommitted:
			err = fmt.Errorf("%w: payment %s", ErrCommitted, c.PaymentID)
		default:
			err = nil // gone, aborted, or another payment's
		}
	}
	if err != nil {
		err = &Error{Op: "undo claim", Err: err}
	}
	return errors.Join(err, <-terr)
}

// put writes item under the condition cond, retrying write conflicts,
// and records its attempts' outcomes in open.
func (j *Journal) put(ctx context.Context, item map[string]types.AttributeValue, cond string, vals map[string]types.AttributeValue, open *attemptOutcomes) error {
	return j.retry(ctx, func() error {
		_, err := j.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &j.Table, Item: item,
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}, open.record)
		return err
	})
}

// Retime adds a time item of c at instant at, so that a window read of
// at finds c: a payment committed long after its claim (a retry or a
// replay completing it) must be found by the window of a failover that
// follows its commit, which the claim's own time no longer lies in.
func (j *Journal) Retime(ctx context.Context, c Claim, at time.Time) error {
	c.State = ""
	var open attemptOutcomes
	err := j.put(ctx, c.item(timeKeyAt(c, at)), "attribute_not_exists(pk)", nil, &open)
	var exists *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &exists) {
		return j.settled(&Error{Op: "retime claim", Err: err}, &open)
	}
	return nil
}

// Commit marks c's claim committed: c's payment is in a database, or is
// about to be by the caller before it answers. Committing a committed
// claim of c succeeds. ErrAborted: the claim was aborted, or the key is
// another payment's. ErrOutcomeUnknown: the mark may or may not stand.
func (j *Journal) Commit(ctx context.Context, c Claim) error {
	state, err := j.move(ctx, c, StateCommitted)
	switch {
	case err != nil:
		return err
	case state == StateCommitted:
		return nil
	}
	return &Error{Op: "commit", Err: fmt.Errorf("%w: the claim of payment %s is %s", ErrAborted, c.PaymentID, state)}
}

// Abort marks c's claim aborted: its payment certainly was not
// committed. A claim that is not c's (or none) is left as it is, and an
// aborted one stays so. ErrCommitted: a retry or a replay committed it
// first, the payment stands.
func (j *Journal) Abort(ctx context.Context, c Claim) error {
	state, err := j.move(ctx, c, StateAborted)
	switch {
	case err != nil:
		return err
	case state == StateCommitted:
		return fmt.Errorf("%w: payment %s", ErrCommitted, c.PaymentID)
	}
	return nil
}

// move writes c's claim item in state to, if it is c's and pending (a
// conditional put of the whole item: the lab's stand-in and DynamoDB
// both evaluate it against the item as it is, DynamoDB API Reference,
// PutItem ConditionExpression). It returns the state the claim is in
// afterwards: to, the state it had already reached, or "" when the key is
// not c's.
func (j *Journal) move(ctx context.Context, c Claim, to string) (string, error) {
	var open attemptOutcomes
	c.State = to
	err := j.put(ctx, c.item(claimKey(c.Key)), "paymentId = :p AND "+stateAttr+" = :pending",
		map[string]types.AttributeValue{":p": s(c.PaymentID), ":pending": s(StatePending)}, &open)
	var decided *types.ConditionalCheckFailedException
	if err == nil {
		return to, nil
	}
	if !errors.As(err, &decided) {
		return "", j.settled(&Error{Op: "mark claim " + to, Err: err}, &open)
	}
	held, found, gerr := j.Get(ctx, c.Key)
	switch {
	case gerr != nil:
		return "", j.settled(gerr, &open)
	case !found || held.PaymentID != c.PaymentID:
		return "", nil
	}
	return held.State, nil
}

// settled is err when no attempt of a write may have been applied, and
// an unknown outcome otherwise.
func (j *Journal) settled(err error, open *attemptOutcomes) error {
	if open.open.Load() || !rejected(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
	}
	return err
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
	if c.State == "" {
		c.State = StateCommitted // written before claims had states
	}
	return c, err == nil, err
}

// Release removes c's claim and time item, if the key is still claimed
// for c.PaymentID, whatever the claim's state. A key held by another
// payment, or not at all, is left as it is.
func (j *Journal) Release(ctx context.Context, c Claim) error {
	return j.releaseAt(ctx, c, timeKey(c))
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
