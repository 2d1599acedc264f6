// Package memstore is a small in-memory payments.Store, outbox included,
// so the domain's replay, conflict and outbox rules are tested (and the
// handler fuzzed) where no database runs. Keys compare byte for byte, as
// in the real schema.
package memstore

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// Store implements payments.Store.
type Store struct {
	mu       sync.Mutex
	byKey    map[string]*row
	byID     map[string]*row
	marks    map[string]time.Time
	ReadOnly bool
	// Now is the database's clock (default time.Now).
	Now func() time.Time
}

type row struct {
	p        payments.Payment
	hash     string
	attempts int
	next     time.Time
	sent     bool
}

// New returns an empty store.
func New() *Store {
	return &Store{byKey: map[string]*row{}, byID: map[string]*row{}, marks: map[string]time.Time{}}
}

// Create implements payments.Store.
func (m *Store) Create(_ context.Context, p payments.Payment, hash string) (payments.Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ReadOnly {
		return payments.Stored{}, payments.ErrReadOnly
	}
	if r, ok := m.byKey[p.IdempotencyKey]; ok {
		return payments.Stored{Payment: r.p, Hash: r.hash, EventPending: !r.sent}, nil
	}
	r := &row{p: p, hash: hash, next: p.CreatedAt.Add(payments.InlineGrace)}
	m.byKey[p.IdempotencyKey], m.byID[p.ID] = r, r
	return payments.Stored{Payment: p, Hash: hash, New: true, EventPending: true}, nil
}

// Get implements payments.Store.
func (m *Store) Get(_ context.Context, id string) (payments.Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.byID[id]; ok {
		return r.p, nil
	}
	return payments.Payment{}, payments.ErrNotFound
}

// Present implements payments.Store.
func (m *Store) Present(_ context.Context, ids []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	held := map[string]bool{}
	for _, id := range ids {
		if _, ok := m.byID[id]; ok {
			held[id] = true
		}
	}
	return held, nil
}

// Writable implements payments.Store.
func (m *Store) Writable(context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.ReadOnly, nil
}

// MarkWriter implements payments.Store.
func (m *Store) MarkWriter(_ context.Context, region string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ReadOnly {
		return payments.ErrReadOnly
	}
	if at.After(m.marks[region]) {
		m.marks[region] = at
	}
	return nil
}

// WriterMark implements payments.Store.
func (m *Store) WriterMark(_ context.Context, region string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.marks[region]
	return at, ok, nil
}

// ClaimEvent implements payments.OutboxStore.
func (m *Store) ClaimEvent(_ context.Context, id string, now time.Time, lease time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byID[id]
	if !ok || r.sent || (r.attempts == 0 && r.next.After(now)) {
		return false, nil
	}
	r.next = now.Add(lease)
	return true, nil
}

// ClaimDue implements payments.OutboxStore.
func (m *Store) ClaimDue(_ context.Context, now time.Time, lease time.Duration, limit int) ([]payments.Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ReadOnly {
		return nil, payments.ErrReadOnly
	}
	var due []*row
	for _, r := range m.byID {
		if !r.sent && !r.next.After(now) {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].next.Before(due[j].next) })
	var out []payments.Payment
	for _, r := range due[:min(limit, len(due))] {
		r.next = now.Add(lease)
		out = append(out, r.p)
	}
	return out, nil
}

// MarkSent implements payments.OutboxStore.
func (m *Store) MarkSent(_ context.Context, ids []string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if r, ok := m.byID[id]; ok {
			r.sent = true
		}
	}
	return nil
}

// Retry implements payments.OutboxStore.
func (m *Store) Retry(_ context.Context, ids []string, next time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if r, ok := m.byID[id]; ok && !r.sent {
			r.attempts++
			r.next = next
		}
	}
	return nil
}

// Unsent returns the ids of the payments whose event is not marked sent.
func (m *Store) Unsent() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id, r := range m.byID {
		if !r.sent {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Age moves every unsent row's next attempt d earlier (tests: as if time
// had passed).
func (m *Store) Age(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.byID {
		r.next = r.next.Add(-d)
	}
}

// Clock implements payments.Store.
func (s *Store) Clock(context.Context) (time.Time, error) {
	if s.Now != nil {
		return s.Now().UTC(), nil
	}
	return time.Now().UTC(), nil
}
