package paymentclaims_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/memstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
)

// gatedStore holds the first Create it is asked for until released, and
// then fails it for certain with fail (nothing written): the attempt
// whose database write outlives a retry, a replay or a failover.
type gatedStore struct {
	payments.Store
	entered, release chan struct{}
	fail             error
	first            chan struct{} // closed by the first Create
}

func gate(s payments.Store, fail error) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan struct{}), release: make(chan struct{}), fail: fail, first: make(chan struct{}, 1)}
}

func (g *gatedStore) Create(ctx context.Context, p payments.Payment, hash string) (payments.Stored, error) {
	select {
	case g.first <- struct{}{}:
		close(g.entered)
		<-g.release
		if g.fail != nil {
			return payments.Stored{}, g.fail
		}
	default:
	}
	return g.Store.Create(ctx, p, hash)
}

// gatedJournal holds the first Claim until released: a request admitted
// under one writer epoch whose claim is sent after a move.
type gatedJournal struct {
	payments.Journal
	entered, release chan struct{}
	first            chan struct{}
}

func (g *gatedJournal) Claim(ctx context.Context, p payments.Payment, hash string) (payments.Claimed, error) {
	select {
	case g.first <- struct{}{}:
		close(g.entered)
		<-g.release
	default:
	}
	return g.Journal.Claim(ctx, p, hash)
}

// moveWriter records region as the journal's writer at the next epoch, as
// a move does before it promotes a database.
func moveWriter(t *testing.T, j *claims.Journal, region string) {
	t.Helper()
	w, _, err := j.ReadWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.SetWriter(context.Background(), region, w.Epoch, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// sessions accepts every session item.
type sessions struct{}

func (sessions) Put(context.Context, payments.Payment) error { return nil }
func (sessions) Ping(context.Context) error                  { return nil }

// region is one Region's service on the shared journal table.
func region(client *dynamodb.Client, table, name string, store payments.Store) (*payments.Service, *claims.Journal) {
	j := &claims.Journal{Client: client, Table: table}
	return &payments.Service{Store: store, Sessions: sessions{}, Journal: paymentclaims.Journal{J: j}, Region: name}, j
}

func request(key string) payments.Request {
	return payments.Request{IdempotencyKey: key, Amount: 1250, Currency: "EUR", MerchantRef: "m-1", CustomerRef: "c-1", SessionID: "s-1"}
}

type answer struct {
	p   payments.Payment
	err error
}

func create(s *payments.Service, req payments.Request) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		p, _, err := s.Create(context.Background(), req)
		out <- answer{p, err}
	}()
	return out
}

// certainFailure is an answer that tells the client its request was not
// applied (the HTTP layer's 4xx, backend_unavailable, region_read_only
// and internal): anything but a payment or "outcome unknown".
func certainFailure(err error) bool {
	return err != nil && !errors.Is(err, payments.ErrOutcomeUnknown)
}

// The failover's replay completes, in the new writer, a claim whose
// request is still running in the old Region; that request then fails
// for certain (its database was demoted under it). Its answer must not
// say "not applied": the payment exists.
func TestReplayDuringAFailingAttemptTellsNoLie(t *testing.T) {
	client, table := backends.JournalTable(t)
	oldStore := gate(memstore.New(), fmt.Errorf("%w: demoted during the failover", payments.ErrReadOnly))
	old, _ := region(client, table, "us-east-1", oldStore)
	newStore := memstore.New()
	writer, j := region(client, table, "us-west-2", newStore)
	moveWriter(t, j, "us-east-1")

	attempt := create(old, request("k-phantom"))
	<-oldStore.entered
	moveWriter(t, j, "us-west-2")
	res, err := writer.ReplayJournal(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	close(oldStore.release)
	got := <-attempt

	if len(res.Replayed) != 1 {
		t.Fatalf("replay of a pending claim: %+v; want its payment completed", res)
	}
	if certainFailure(got.err) || got.err == nil {
		t.Errorf("the payment %s was replayed into the writer, and its request answered %+v %v; want outcome unknown", res.Replayed[0].PaymentID, got.p, got.err)
	}
	if held, found, err := j.Get(context.Background(), "k-phantom"); err != nil || !found || held.PaymentID != res.Replayed[0].PaymentID || held.State != claims.StateCommitted {
		t.Errorf("claim of the replayed payment: %+v found=%v %v; want it committed", held, found, err)
	}
}

// A retry completes and acknowledges the payment while the first attempt
// still waits on its database; the first then fails for certain (a lock
// wait timeout behind the retry's row). The acknowledged payment keeps
// its claim, so the next writer answers the key with it, and the first
// attempt does not say "not applied".
func TestRetryAcknowledgedBeforeTheFirstAttemptFailsKeepsItsClaim(t *testing.T) {
	client, table := backends.JournalTable(t)
	store := gate(memstore.New(), errors.New("Error 1205: Lock wait timeout exceeded; try restarting transaction"))
	east, j := region(client, table, "us-east-1", store)
	moveWriter(t, j, "us-east-1")

	first := create(east, request("k-retried"))
	<-store.entered
	acked, _, err := east.Create(context.Background(), request("k-retried"))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	close(store.release)
	got := <-first
	if certainFailure(got.err) {
		t.Errorf("first attempt answered %v (not applied), but its payment %s was acknowledged to the retry", got.err, acked.ID)
	}
	if held, found, err := j.Get(context.Background(), "k-retried"); err != nil || !found || held.PaymentID != acked.ID || held.State != claims.StateCommitted {
		t.Fatalf("claim of the acknowledged key: %+v found=%v %v; want %s, committed", held, found, err, acked.ID)
	}
	west, _ := region(client, table, "us-west-2", memstore.New())
	moveWriter(t, j, "us-west-2")
	again, _, err := west.Create(context.Background(), request("k-retried"))
	if err != nil || again.ID != acked.ID {
		t.Errorf("the key in the next writer: %s %v; want the acknowledged %s", again.ID, err, acked.ID)
	}
}

// The attempt fails for certain before the replay reads its claim: the
// replay completes nothing, and "not applied" stays true.
func TestFailedAttemptBeforeTheReplayIsNotReplayed(t *testing.T) {
	client, table := backends.JournalTable(t)
	oldStore := gate(memstore.New(), fmt.Errorf("%w: demoted", payments.ErrReadOnly))
	old, j := region(client, table, "us-east-1", oldStore)
	writer, _ := region(client, table, "us-west-2", memstore.New())
	moveWriter(t, j, "us-east-1")
	attempt := create(old, request("k-failed"))
	<-oldStore.entered
	close(oldStore.release)
	if got := <-attempt; !certainFailure(got.err) {
		t.Fatalf("attempt: %+v %v, want a certain failure", got.p, got.err)
	}
	moveWriter(t, j, "us-west-2")
	res, err := writer.ReplayJournal(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(res.Replayed) != 0 {
		t.Errorf("replay after the failed attempt: %+v %v; want nothing replayed", res, err)
	}
	// The key is free for a new attempt, in either Region.
	if p, outcome, err := writer.Create(context.Background(), request("k-failed")); err != nil || outcome != payments.Created {
		t.Errorf("a new attempt of the key: %+v %v %v", p, outcome, err)
	}
}

// A request admitted under the old writer's epoch sends its claim only
// after the move wrote a new epoch, waited payments.WriterLease and
// replayed (which found nothing): its payment commits in the old Region's
// database alone. It must not be acknowledged: its confirmation is older
// than the lease, and a fresh read finds the writer moved.
func TestARequestAdmittedBeforeAMoveIsNotAcknowledgedAfterItsLease(t *testing.T) {
	client, table := backends.JournalTable(t)
	oldStore := memstore.New()
	old, j := region(client, table, "us-east-1", oldStore)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	old.Now = func() time.Time { return time.Unix(0, now.Load()) }
	claims := &gatedJournal{Journal: old.Journal, entered: make(chan struct{}), release: make(chan struct{}), first: make(chan struct{}, 1)}
	old.Journal = claims
	writer, _ := region(client, table, "us-west-2", memstore.New())
	moveWriter(t, j, "us-east-1")

	attempt := create(old, request("k-late"))
	<-claims.entered
	moveWriter(t, j, "us-west-2")
	now.Add(int64(payments.WriterLease)) // the move waits out the lease
	res, err := writer.ReplayJournal(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(res.Replayed) != 0 {
		t.Fatalf("replay: %+v %v; want nothing to replay yet", res, err)
	}
	close(claims.release)
	got := <-attempt
	if got.err == nil {
		t.Errorf("acknowledged %s after the writer moved and the replay ran: the new writer lacks it", got.p.ID)
	} else if !errors.Is(got.err, payments.ErrOutcomeUnknown) {
		t.Errorf("answer %v; the payment may be in the old database: want outcome unknown", got.err)
	}
	if _, _, err := writer.Create(context.Background(), request("k-new")); err != nil {
		t.Errorf("the new writer takes payments: %v", err)
	}
	if _, _, err := old.Create(context.Background(), request("k-after")); !errors.Is(err, payments.ErrNotWriter) {
		t.Errorf("the old Region after the move: %v, want refused as not the writer", err)
	}
}
