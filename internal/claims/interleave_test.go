package claims

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Two attempts of one key made in the same instant (a client that sends
// its retry while the first is in flight, both stamped by one clock
// tick): the loser removes its own time item, never the winner's, so the
// replay still finds the winner's claim.
func TestAttemptsAtOneInstantKeepTheWinnersTimeItem(t *testing.T) {
	j, _ := dynaliteJournal(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)
	winner, loser := newClaim("k-instant", at), newClaim("k-instant", at)
	loser.PaymentID = "p-loser"
	if got, err := j.Claim(ctx, winner); err != nil || !got.New {
		t.Fatalf("first attempt: %+v %v", got, err)
	}
	if got, err := j.Claim(ctx, loser); err != nil || got.New || got.Claim.PaymentID != winner.PaymentID {
		t.Fatalf("second attempt: %+v %v; want the first's claim", got, err)
	}
	var ids []string
	if err := j.Window(ctx, at, at, func(c Claim) error { ids = append(ids, c.PaymentID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != winner.PaymentID {
		t.Errorf("window at the instant holds %q, want the winner's claim %s", ids, winner.PaymentID)
	}
}

// A claim write answered 500 (applied) whose SDK retry meets its own
// item, and then the consistent read that would tell whose item it is
// fails: the claim may stand, so the answer is "outcome unknown", or
// "unavailable" only after the claim was undone.
func TestClaimMeetingAnItemItCannotReadIsUndoneOrUnknown(t *testing.T) {
	var mu sync.Mutex
	claimPuts := 0
	e := &endpoint{fn: func(op, body string, n int) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case op == "PutItem" && strings.Contains(body, `"claim#`) && strings.Contains(body, "attribute_not_exists"):
			claimPuts++
			if claimPuts == 1 {
				return 500, awsError("InternalServerError", "Internal server error")
			}
			return 400, awsError("ConditionalCheckFailedException", "The conditional request failed")
		case op == "GetItem":
			return 500, awsError("InternalServerError", "Internal server error")
		}
		return 200, `{}`
	}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	_, err := wireJournal(t, srv.URL).Claim(context.Background(), newClaim("k", time.Now()))
	if err == nil {
		t.Fatal("claim succeeded without reading the key's holder")
	}
	undone := e.count("PutItem", `"claim#`) > claimPuts || e.count("DeleteItem", `"claim#`) > 0
	if !errors.Is(err, ErrOutcomeUnknown) && !undone {
		t.Errorf("claim: %v with the claim left standing (calls %q); want outcome unknown, or unavailable after undoing it", err, e.calls)
	}
}

// A claim moves from pending to committed or to aborted, once: each move
// is conditional on pending, repeating the move that happened succeeds,
// and the other one reports what happened instead. An aborted key is
// claimed anew by the next attempt.
func TestClaimStatesMoveOnceFromPending(t *testing.T) {
	j, _ := dynaliteJournal(t)
	ctx := context.Background()
	state := func(key string) string {
		t.Helper()
		c, found, err := j.Get(ctx, key)
		if err != nil || !found {
			t.Fatalf("get %s: found=%v %v", key, found, err)
		}
		return c.State
	}
	at := time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)
	done := newClaim("k-done", at)
	if _, err := j.Claim(ctx, done); err != nil || state("k-done") != StatePending {
		t.Fatalf("claim: %v, state %s", err, state("k-done"))
	}
	if err := j.Commit(ctx, done); err != nil || state("k-done") != StateCommitted {
		t.Fatalf("commit: %v, state %s", err, state("k-done"))
	}
	if err := j.Commit(ctx, done); err != nil {
		t.Errorf("commit again: %v", err)
	}
	if err := j.Abort(ctx, done); !errors.Is(err, ErrCommitted) || state("k-done") != StateCommitted {
		t.Errorf("abort of a committed claim: %v, state %s; want ErrCommitted and committed", err, state("k-done"))
	}

	failed := newClaim("k-failed", at)
	if _, err := j.Claim(ctx, failed); err != nil {
		t.Fatal(err)
	}
	if err := j.Abort(ctx, failed); err != nil || state("k-failed") != StateAborted {
		t.Fatalf("abort: %v, state %s", err, state("k-failed"))
	}
	if err := j.Abort(ctx, failed); err != nil {
		t.Errorf("abort again: %v", err)
	}
	if err := j.Commit(ctx, failed); !errors.Is(err, ErrAborted) || state("k-failed") != StateAborted {
		t.Errorf("commit of an aborted claim: %v, state %s; want ErrAborted and aborted", err, state("k-failed"))
	}
	next := newClaim("k-failed", at.Add(time.Second))
	next.PaymentID = "p-next"
	got, err := j.Claim(ctx, next)
	if err != nil || !got.New || got.Claim.PaymentID != "p-next" || state("k-failed") != StatePending {
		t.Fatalf("next attempt of an aborted key: %+v %v, state %s; want it claimed, pending", got, err, state("k-failed"))
	}
	// The aborted attempt's payment cannot be committed or aborted any
	// more: the key is the next attempt's.
	if err := j.Commit(ctx, failed); !errors.Is(err, ErrAborted) {
		t.Errorf("commit of the replaced claim: %v, want ErrAborted", err)
	}
	if err := j.Abort(ctx, failed); err != nil || state("k-failed") != StatePending {
		t.Errorf("abort of the replaced claim: %v, state %s; want no error and the next attempt's claim left pending", err, state("k-failed"))
	}
}

// A claim item written before claims had states reads as committed: it
// may be an acknowledged payment's, so it is never aborted.
func TestAClaimWithoutStateIsCommitted(t *testing.T) {
	j, client := dynaliteJournal(t)
	ctx := context.Background()
	old := newClaim("k-before-states", time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC))
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.Table), Item: old.item(claimKey(old.Key))}); err != nil {
		t.Fatal(err)
	}
	if c, found, err := j.Get(ctx, old.Key); err != nil || !found || c.State != StateCommitted {
		t.Fatalf("get: %+v %v %v; want committed", c, found, err)
	}
	if err := j.Abort(ctx, old); !errors.Is(err, ErrCommitted) {
		t.Errorf("abort: %v, want ErrCommitted", err)
	}
	if err := j.Commit(ctx, old); err != nil {
		t.Errorf("commit: %v", err)
	}
}

// readFlags records whether each read the journal sends is strongly
// consistent.
type readFlags struct {
	API
	mu       sync.Mutex
	eventual []string
	reads    int
}

func (r *readFlags) note(op string, consistent *bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++
	if consistent == nil || !*consistent {
		r.eventual = append(r.eventual, op)
	}
}

func (r *readFlags) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.note("GetItem", in.ConsistentRead)
	return r.API.GetItem(ctx, in, opts...)
}

func (r *readFlags) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.note("Query", in.ConsistentRead)
	return r.API.Query(ctx, in, opts...)
}

// On an MRSC table an eventually consistent read may miss a write made
// through another Region (DynamoDB developer guide, "Multi-Region strong
// consistency"): a claim read so would let a second payment take the
// key, and a window read so would let the replay miss payments. Every
// read of the journal asks for a strongly consistent one.
func TestEveryJournalReadIsStronglyConsistent(t *testing.T) {
	j, _ := dynaliteJournal(t)
	flags := &readFlags{API: j.Client}
	j.Client = flags
	ctx := context.Background()
	at := time.Now().UTC()
	first, second := newClaim("k-read", at), newClaim("k-read", at.Add(time.Millisecond))
	second.PaymentID = "p-second"
	if _, err := j.Claim(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, err := j.Claim(ctx, second); err != nil || got.New {
		t.Fatalf("second claim: %+v %v", got, err)
	}
	if err := j.Commit(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(ctx, first); err != nil { // already committed: read back
		t.Fatal(err)
	}
	if _, _, err := j.Get(ctx, "k-read"); err != nil {
		t.Fatal(err)
	}
	if err := j.Window(ctx, at.Add(-time.Minute), at.Add(time.Minute), func(Claim) error { return nil }); err != nil {
		t.Fatal(err)
	}
	j.SweepLookback = 2 * time.Minute
	if _, err := j.Sweep(ctx, at.Add(time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	_, _, _ = j.ReadWriter(ctx)
	if flags.reads == 0 || len(flags.eventual) > 0 {
		t.Errorf("%d reads, eventually consistent: %q", flags.reads, flags.eventual)
	}
}
