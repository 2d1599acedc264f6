package payments

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store for the domain rules.
type memStore struct {
	mu       sync.Mutex
	byKey    map[string]Payment
	hashes   map[string]string
	readOnly bool
}

func (m *memStore) Create(_ context.Context, p Payment, hash string) (Payment, string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readOnly {
		return Payment{}, "", false, ErrReadOnly
	}
	if old, ok := m.byKey[p.IdempotencyKey]; ok {
		return old, m.hashes[p.IdempotencyKey], false, nil
	}
	m.byKey[p.IdempotencyKey], m.hashes[p.IdempotencyKey] = p, hash
	return p, hash, true, nil
}
func (m *memStore) Get(context.Context, string) (Payment, error) { return Payment{}, ErrNotFound }
func (m *memStore) Writable(context.Context) (bool, error)       { return !m.readOnly, nil }

type recorder struct {
	mu     sync.Mutex
	events []Event
	puts   []Payment
	err    error
}

func (r *recorder) Publish(_ context.Context, e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return r.err
}
func (r *recorder) Put(_ context.Context, p Payment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.puts = append(r.puts, p)
	return r.err
}
func (r *recorder) Ping(context.Context) error { return r.err }

func newService() (*Service, *memStore, *recorder) {
	st := &memStore{byKey: map[string]Payment{}, hashes: map[string]string{}}
	rec := &recorder{}
	return &Service{Store: st, Sessions: rec, Events: rec, Region: "us-west-2",
		Now: func() time.Time { return time.Date(2026, 11, 25, 4, 0, 0, 123456789, time.UTC) }}, st, rec
}

var good = Request{IdempotencyKey: "k", Amount: 500, Currency: "JPY", MerchantRef: "m", CustomerRef: "c"}

func TestCreateLedgerBalancesAndSessionDefaults(t *testing.T) {
	s, _, rec := newService()
	p, out, err := s.Create(context.Background(), good)
	if err != nil || out != Created {
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
	if len(rec.events) != 1 || rec.events[0].DetailType != EventProcessed || len(rec.puts) != 1 {
		t.Errorf("after commit: %d events %d sessions", len(rec.events), len(rec.puts))
	}
}

func TestReadOnlyStoreWritesNothingElsewhere(t *testing.T) {
	s, st, rec := newService()
	st.readOnly = true
	if _, _, err := s.Create(context.Background(), good); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("err %v", err)
	}
	if len(rec.events)+len(rec.puts) != 0 {
		t.Error("session or event written for an uncommitted payment")
	}
	if h := s.Health(context.Background()); h.Status == "ok" || h.DBWritable || !h.TableReachable {
		t.Errorf("health %+v", h)
	}
}

func TestAfterCommitFailureIsReportedNotFatal(t *testing.T) {
	s, _, rec := newService()
	rec.err = errors.New("boom")
	var reported []string
	s.OnAfterCommitError = func(p Payment, what string, err error) { reported = append(reported, what) }
	if _, _, err := s.Create(context.Background(), good); err != nil {
		t.Fatalf("committed payment reported as failed: %v", err)
	}
	if strings.Join(reported, ",") != "event,session" {
		t.Errorf("reported %v", reported)
	}
}

func TestRequestHashSeparatesFields(t *testing.T) {
	a := Request{Amount: 1, Currency: "EUR", MerchantRef: "ab", CustomerRef: "c"}
	b := Request{Amount: 1, Currency: "EUR", MerchantRef: "a", CustomerRef: "bc"}
	if RequestHash(a) == RequestHash(b) {
		t.Error("field boundaries are ambiguous")
	}
	a2 := a
	a2.IdempotencyKey = "other"
	if RequestHash(a) != RequestHash(a2) {
		t.Error("the key must not be part of the body hash")
	}
}

func TestValidateCurrencies(t *testing.T) {
	for _, c := range []string{"USD", "EUR", "JPY", "KWD", "XOF"} {
		r := good
		r.Currency = c
		if err := Validate(r); err != nil {
			t.Errorf("%s rejected: %v", c, err)
		}
	}
	for _, c := range []string{"", "usd", "XXX", "XAU", "EURO", "US"} {
		r := good
		r.Currency = c
		var ve *ValidationError
		if err := Validate(r); !errors.As(err, &ve) || ve.Code != "invalid_currency" {
			t.Errorf("%q: %v", c, err)
		}
	}
}
