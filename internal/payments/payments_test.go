package payments_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/memstore"
)

// recorder is a session table and an event bus that record what they get.
type recorder struct {
	mu       sync.Mutex
	events   []payments.Event
	puts     []payments.Payment
	err      error // returned by Put and Ping
	eventErr error // returned for every event
	calls    int   // Publish calls
	delay    time.Duration
}

func (r *recorder) Publish(_ context.Context, evs []payments.Event) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	errs := make([]error, len(evs))
	for i, e := range evs {
		if r.eventErr != nil {
			errs[i] = r.eventErr
			continue
		}
		r.events = append(r.events, e)
	}
	return errs
}
func (r *recorder) Put(_ context.Context, p payments.Payment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.puts = append(r.puts, p)
	return r.err
}
func (r *recorder) Ping(ctx context.Context) error {
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.err
}
func (r *recorder) counts() (events, puts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events), len(r.puts)
}

func newService() (*payments.Service, *memstore.Store, *recorder) {
	st := memstore.New()
	rec := &recorder{}
	now := func() time.Time { return time.Date(2026, 11, 25, 4, 0, 0, 123456789, time.UTC) }
	st.Now = now // the database's clock agrees with the service's
	return &payments.Service{Store: st, Sessions: rec, Outbox: &payments.Relay{Store: st, Events: rec}, Region: "us-west-2", Now: now}, st, rec
}

var good = payments.Request{IdempotencyKey: "k", Amount: 500, Currency: "JPY", MerchantRef: "m", CustomerRef: "c"}

func TestCreateLedgerBalancesAndSessionDefaults(t *testing.T) {
	s, st, rec := newService()
	p, out, err := s.Create(context.Background(), good)
	if err != nil || out != payments.Created {
		t.Fatal(err)
	}
	if p.Region != "us-west-2" || p.SessionID != "payment:"+p.ID || !p.CreatedAt.Equal(time.Date(2026, 11, 25, 4, 0, 0, 123456000, time.UTC)) {
		t.Errorf("payment %+v", p)
	}
	var sum int64
	for _, e := range p.Ledger() {
		if e.Direction == "debit" {
			sum += e.Amount
		} else {
			sum -= e.Amount
		}
	}
	if len(p.Ledger()) != 2 || sum != 0 {
		t.Errorf("ledger does not balance: %+v", p.Ledger())
	}
	if len(rec.events) != 1 || rec.events[0].DetailType != payments.EventProcessed || len(rec.puts) != 1 {
		t.Errorf("after commit: %d events %d sessions", len(rec.events), len(rec.puts))
	}
	if u := st.Unsent(); len(u) != 0 {
		t.Errorf("published event not marked sent: %v", u)
	}
}

func TestReadOnlyStoreWritesNothingElsewhere(t *testing.T) {
	s, st, rec := newService()
	st.ReadOnly = true
	if _, _, err := s.Create(context.Background(), good); !errors.Is(err, payments.ErrReadOnly) {
		t.Fatalf("err %v", err)
	}
	if len(rec.events)+len(rec.puts) != 0 {
		t.Error("session or event written for an uncommitted payment")
	}
	if h := s.Health(context.Background()); h.Status != "unavailable" || h.Healthy() || h.DBWritable || !h.TableReachable {
		t.Errorf("health %+v", h)
	}
}

// A failed session put is reported; a failed event stays in the outbox.
func TestAfterCommitFailureIsReportedNotFatal(t *testing.T) {
	s, st, rec := newService()
	rec.err, rec.eventErr = errors.New("boom"), errors.New("bus down")
	var reported []string
	s.OnAfterCommitError = func(p payments.Payment, what string, err error) { reported = append(reported, what) }
	s.Outbox.OnError = func(what string, _ []string, _ error) { reported = append(reported, "outbox "+what) }
	p, _, err := s.Create(context.Background(), good)
	if err != nil {
		t.Fatalf("committed payment reported as failed: %v", err)
	}
	if strings.Join(reported, ",") != "outbox publish,session" {
		t.Errorf("reported %v", reported)
	}
	if u := st.Unsent(); len(u) != 1 || u[0] != p.ID {
		t.Errorf("unsent %v, want the payment's event", u)
	}
}

// Replay and conflict on the in-memory store, where no backend runs.
func TestReplayCompletesWhatTheFirstAttemptLeftUndone(t *testing.T) {
	s, st, rec := newService()
	rec.eventErr, rec.err = errors.New("bus down"), errors.New("table down")
	first, _, err := s.Create(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	rec.eventErr, rec.err = nil, nil
	// The bus is back; a replay does not wait for the backoff (its row's
	// attempt failed, so no attempt holds it).
	again, out, err := s.Create(context.Background(), good)
	if err != nil || out != payments.Replayed || again.ID != first.ID {
		t.Fatalf("replay: %v %v %v", again.ID, out, err)
	}
	if ev, puts := rec.counts(); ev != 1 || puts != 2 {
		t.Errorf("after the replay: %d events, %d session puts; want 1 and 2", ev, puts)
	}
	if u := st.Unsent(); len(u) != 0 {
		t.Errorf("unsent after the replay: %v", u)
	}
	// A second replay publishes nothing more.
	if _, _, err := s.Create(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if ev, _ := rec.counts(); ev != 1 {
		t.Errorf("%d events after a second replay", ev)
	}
}

func TestConflictingBodyIsAConflictNamingNoPayment(t *testing.T) {
	s, _, rec := newService()
	first, _, err := s.Create(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	other := good
	other.Amount++
	_, _, err = s.Create(context.Background(), other)
	var ce *payments.ConflictError
	if !errors.As(err, &ce) || ce.ExistingID != first.ID || strings.Contains(err.Error(), first.ID) {
		t.Fatalf("conflict: %v", err)
	}
	// Keys compare exactly: another case is another payment.
	k2 := good
	k2.IdempotencyKey = "K"
	if p, out, err := s.Create(context.Background(), k2); err != nil || out != payments.Created || p.ID == first.ID {
		t.Fatalf("key in another case: %v %v", out, err)
	}
	if ev, _ := rec.counts(); ev != 2 {
		t.Errorf("%d events, want 2", ev)
	}
}

// While the bus fails, requests leave their events to the sweep (no
// waiting on a dead bus); once it is back, a sweep publishes every one.
func TestOutboxDelaysEventsDuringAnOutageAndLosesNone(t *testing.T) {
	s, st, rec := newService()
	s.Outbox.MinBackoff, s.Outbox.MaxBackoff = time.Second, time.Second
	rec.eventErr = errors.New("bus down")
	for i := 0; i < 120; i++ {
		r := good
		r.IdempotencyKey = "k" + strings.Repeat("x", i)
		if _, _, err := s.Create(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if rec.calls != 1 {
		t.Errorf("%d publish calls during the outage, want 1 (then the backoff)", rec.calls)
	}
	rec.eventErr = nil
	if n, _ := s.Outbox.Sweep(context.Background()); n != 0 {
		t.Errorf("a sweep within the backoff published %d", n)
	}
	time.Sleep(1100 * time.Millisecond) // the backoff ends
	st.Age(time.Hour)                   // and the rows' grace has passed
	n, err := s.Outbox.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u := st.Unsent(); len(u) != 0 || n == 0 {
		t.Errorf("%d published by the sweep, %d still unsent", n, len(u))
	}
	if ev, _ := rec.counts(); ev != 120 {
		t.Errorf("%d events for 120 payments", ev)
	}
}

// /health never waits on the session table: a DynamoDB that hangs leaves
// the answer to the database probe and the cached table state, and a
// writable database with the table down is healthy but degraded.
func TestHealthUsesTheCachedTableStateAndTheDatabaseDecides(t *testing.T) {
	s, _, rec := newService()
	rec.err = errors.New("table down")
	h := s.Health(context.Background())
	if !h.Healthy() || h.Status != "degraded" || h.TableReachable || h.TableError != "unreachable" {
		t.Fatalf("health with the table down: %+v", h)
	}
	rec.err, rec.delay = nil, time.Hour
	s.Tables = &payments.TableProbe{Sessions: rec}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h = s.Health(ctx)
	if !h.Healthy() || h.TableError != "unknown" {
		t.Fatalf("health while the first ping hangs: %+v", h)
	}
}

func TestRequestHashSeparatesFields(t *testing.T) {
	a := payments.Request{Amount: 1, Currency: "EUR", MerchantRef: "ab", CustomerRef: "c"}
	b := payments.Request{Amount: 1, Currency: "EUR", MerchantRef: "a", CustomerRef: "bc"}
	if payments.RequestHash(a) == payments.RequestHash(b) {
		t.Error("field boundaries are ambiguous")
	}
	a2 := a
	a2.IdempotencyKey = "other"
	if payments.RequestHash(a) != payments.RequestHash(a2) {
		t.Error("the key must not be part of the body hash")
	}
}

func TestValidateCurrencies(t *testing.T) {
	for _, c := range []string{"USD", "EUR", "JPY", "KWD", "XOF"} {
		r := good
		r.Currency = c
		if err := payments.Validate(r); err != nil {
			t.Errorf("%s rejected: %v", c, err)
		}
	}
	for _, c := range []string{"", "usd", "XXX", "XAU", "EURO", "US"} {
		r := good
		r.Currency = c
		var ve *payments.ValidationError
		if err := payments.Validate(r); !errors.As(err, &ve) || ve.Code != "invalid_currency" {
			t.Errorf("%q: %v", c, err)
		}
	}
}

// claimCounter is a journal that claims every key anew and counts the
// claims and aborts it is asked for; its window and its held claims
// are the test's.
type claimCounter struct {
	mu                                          sync.Mutex
	claims, aborts, commits, helds, writerReads int
	window                                      []payments.Claimed
	writerErr                                   error
	writer                                      payments.WriterRecord // none recorded while Region is ""
	retimed                                     []retime
}

// retime is one Retime call: the key and the instant.
type retime struct {
	key string
	at  time.Time
}

func (j *claimCounter) Claim(_ context.Context, p payments.Payment, hash string) (payments.Claimed, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.claims++
	return payments.Claimed{Payment: p, Hash: hash, New: true}, nil
}
func (j *claimCounter) Held(_ context.Context, key string) (payments.Claimed, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.helds++
	for _, c := range j.window {
		if c.Payment.IdempotencyKey == key {
			return c, true, nil
		}
	}
	return payments.Claimed{}, false, nil
}
func (j *claimCounter) Abort(context.Context, payments.Payment, string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.aborts++
	return nil
}
func (j *claimCounter) Commit(context.Context, payments.Payment, string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.commits++
	return nil
}
func (j *claimCounter) Retime(_ context.Context, p payments.Payment, _ string, at time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.retimed = append(j.retimed, retime{p.IdempotencyKey, at})
	return nil
}
func (j *claimCounter) Window(_ context.Context, _, _ time.Time, fn func(payments.Claimed) error) error {
	for _, c := range j.window {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
func (j *claimCounter) Sweep(context.Context, time.Time, time.Duration) (int, error) { return 0, nil }
func (j *claimCounter) Writer(context.Context) (payments.WriterRecord, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.writerReads++
	return j.writer, j.writer.Region != "", j.writerErr
}
func (j *claimCounter) BootstrapWriter(_ context.Context, region string) (payments.WriterRecord, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.writer.Region == "" {
		j.writer = payments.WriterRecord{Region: region, Epoch: 1}
	}
	return j.writer, nil
}

// After its database's first read-only answer, a Region refuses payments
// without claiming them for ReadOnlyHold; later, or once /health finds
// the database writable, the next payment claims and commits again.
func TestReadOnlyDatabaseStopsTheClaimsForAHold(t *testing.T) {
	s, st, _ := newService()
	j := &claimCounter{writer: payments.WriterRecord{Region: s.Region, Epoch: 1}}
	s.Journal = j
	now := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	st.ReadOnly = true
	create := func(key string) error {
		req := good
		req.IdempotencyKey = key
		_, _, err := s.Create(context.Background(), req)
		return err
	}
	for i := range 10 {
		if err := create("ro-" + string(rune('a'+i))); !errors.Is(err, payments.ErrReadOnly) {
			t.Fatalf("payment %d on a read-only database: %v", i, err)
		}
	}
	if j.claims != 1 || j.aborts != 1 {
		t.Fatalf("10 payments refused by a read-only database: %d claims, %d aborts; want 1 and 1", j.claims, j.aborts)
	}
	now = now.Add(payments.ReadOnlyHold)
	if err := create("ro-after-hold"); !errors.Is(err, payments.ErrReadOnly) || j.claims != 2 {
		t.Fatalf("after the hold: %v, %d claims; want the database asked again (2 claims)", err, j.claims)
	}
	if h := s.Health(context.Background()); h.DBWritable {
		t.Fatalf("health of a read-only database: %+v", h)
	}
	if err := create("ro-health-ro"); !errors.Is(err, payments.ErrReadOnly) || j.claims != 2 {
		t.Fatalf("a read-only /health reopened the gate: %v, %d claims", err, j.claims)
	}
	st.ReadOnly = false // promoted
	if h := s.Health(context.Background()); !h.DBWritable {
		t.Fatalf("health after promotion: %+v", h)
	}
	if err := create("promoted"); err != nil || j.claims != 3 {
		t.Fatalf("after /health found the database writable: %v, %d claims", err, j.claims)
	}
}

// readCounter counts the database reads a replay makes.
type readCounter struct {
	*memstore.Store
	gets, presents int
}

func (r *readCounter) Get(ctx context.Context, id string) (payments.Payment, error) {
	r.gets++
	return r.Store.Get(ctx, id)
}
func (r *readCounter) Present(ctx context.Context, ids []string) (map[string]bool, error) {
	r.presents++
	if len(ids) > payments.MaxPresentBatch {
		return nil, fmt.Errorf("%d ids in one read", len(ids))
	}
	return r.Store.Present(ctx, ids)
}

// A replay asks the database about a batch of claims at a time, and the
// journal and the database only about the payments it lacks.
func TestReplayReadsTheDatabaseOncePerBatch(t *testing.T) {
	s, st, _ := newService()
	reads := &readCounter{Store: st}
	s.Store = reads
	j := &claimCounter{}
	s.Journal = j
	const claims = 2*payments.MaxPresentBatch + 7
	missing := map[string]bool{"k-3": true, "k-600": true, "k-1006": true}
	for i := range claims {
		req := good
		req.IdempotencyKey = fmt.Sprintf("k-%d", i)
		c := payments.Claimed{Payment: payments.Payment{ID: fmt.Sprintf("p-%d", i), IdempotencyKey: req.IdempotencyKey,
			Amount: req.Amount, Currency: req.Currency, MerchantRef: "m", CustomerRef: "c", SessionID: "s", Status: payments.StatusProcessed,
			CreatedAt: time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)}, Hash: payments.RequestHash(req)}
		j.window = append(j.window, c)
		if !missing[req.IdempotencyKey] {
			if _, err := st.Create(context.Background(), c.Payment, c.Hash); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := s.ReplayJournal(context.Background(), time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != len(missing) || res.Present != claims-len(missing) {
		t.Fatalf("replay: %d replayed, %d present; want %d and %d", len(res.Replayed), res.Present, len(missing), claims-len(missing))
	}
	for _, r := range res.Replayed {
		if !missing[string(r.Key)] {
			t.Errorf("replayed %s, which the database held", r.Key)
		}
	}
	if reads.presents != 3 || reads.gets != 0 || j.helds != len(missing) {
		t.Errorf("%d claims, %d missing: %d batch reads, %d single reads, %d journal reads; want 3, 0 and %d",
			claims, len(missing), reads.presents, reads.gets, j.helds, len(missing))
	}
}

// A claim that succeeded needed a majority: for MajorityEvidenceMaxAge
// /health trusts it instead of its own strongly consistent read, which a
// burst of claims can delay past its budget. Older, /health reads.
func TestHealthTrustsARecentClaimForTheMajority(t *testing.T) {
	s, _, _ := newService()
	j := &claimCounter{writerErr: fmt.Errorf("%w: read timed out", payments.ErrUnavailable)}
	s.Journal = j
	now := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	if h := s.Health(context.Background()); h.JournalError != "no_majority" || j.writerReads != 1 {
		t.Fatalf("health before any claim: %+v after %d reads", h, j.writerReads)
	}
	j.writerErr = nil
	if _, _, err := s.Create(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	reads := j.writerReads
	j.writerErr = fmt.Errorf("%w: read timed out", payments.ErrUnavailable)
	now = now.Add(payments.MajorityEvidenceMaxAge - time.Millisecond)
	if h := s.Health(context.Background()); !h.Healthy() || j.writerReads != reads {
		t.Fatalf("health right after a claim: %+v after %d reads; want healthy without a read", h, j.writerReads-reads)
	}
	now = now.Add(time.Millisecond)
	if h := s.Health(context.Background()); h.JournalError != "no_majority" || j.writerReads != reads+1 {
		t.Fatalf("health once the claim is too old: %+v after %d reads", h, j.writerReads-reads)
	}
}
