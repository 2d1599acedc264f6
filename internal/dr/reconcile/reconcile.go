// Package reconcile finds the payments an unplanned failover lost (in the
// old primary's data, not in the new writer's) and re-applies them through
// their idempotency key, which is the business key: ids of ledger entries
// are auto-increment and collide between the two databases, so they are
// never copied, and a key the client has since retried in the new Region
// is a conflict, never charged twice.
package reconcile

import (
	"context"
	"fmt"
	"time"
)

// LedgerEntry is one ledger line of a payment (its own id is not kept:
// the target assigns one).
type LedgerEntry struct {
	Account   string    `json:"account"`
	Direction string    `json:"direction"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"createdAt"`
}

// Payment is one payment row with its ledger entries.
type Payment struct {
	ID            string        `json:"id"`
	Key           string        `json:"idempotencyKey"`
	RequestHash   string        `json:"requestHash"`
	Amount        int64         `json:"amount"`
	Currency      string        `json:"currency"`
	MerchantRef   string        `json:"merchantRef"`
	CustomerRef   string        `json:"customerRef"`
	SessionID     string        `json:"sessionId"`
	Status        string        `json:"status"`
	FailureReason string        `json:"failureReason,omitempty"`
	Region        string        `json:"region"`
	CreatedAt     time.Time     `json:"createdAt"`
	Ledger        []LedgerEntry `json:"ledger,omitempty"`
}

// Source is the old primary's data.
type Source interface {
	// Payments returns every payment with its ledger entries.
	Payments(ctx context.Context) ([]Payment, error)
}

// Outcome is what happened to one payment of the old primary.
type Outcome string

const (
	// Present: the new writer has the same payment (replicated in time).
	Present Outcome = "present"
	// Missing: lost by the failover, not (yet) re-applied.
	Missing Outcome = "missing"
	// Applied: re-inserted with its ledger entries.
	Applied Outcome = "applied"
	// Conflict: the new writer has another payment under the same key
	// (the client retried there): never applied, for a person to settle.
	Conflict Outcome = "conflict"
)

// Target is the current writer's data.
type Target interface {
	// Lookup returns the id of the payment holding key, "" if none.
	Lookup(ctx context.Context, key string) (id string, err error)
	// Apply inserts p and its ledger entries in one transaction through
	// its idempotency key; if the key is taken meanwhile it reports
	// Present (same id) or Conflict (another id) and changes nothing.
	Apply(ctx context.Context, p Payment) (Outcome, error)
}

// Access opens the old Region's data and the current writer's. release
// frees what Open created (on AWS the temporary cluster restored from the
// kept snapshot) and must be called even when reconcile fails.
type Access interface {
	Open(ctx context.Context, oldRegion string) (src Source, dst Target, release func(context.Context) error, err error)
}

// Item is one payment of the old primary that the new writer lacks.
type Item struct {
	Payment
	Outcome Outcome `json:"outcome"`
	// ExistingID is the new writer's payment under the same key (conflicts).
	ExistingID string `json:"existingId,omitempty"`
}

// Report is the result of a reconcile.
type Report struct {
	From    string `json:"from"`
	Scanned int    `json:"scanned"`
	Items   []Item `json:"items"`
}

// Count returns how many items have outcome o.
func (r Report) Count(o Outcome) int {
	n := 0
	for _, it := range r.Items {
		if it.Outcome == o {
			n++
		}
	}
	return n
}

// Run compares src with dst and, with apply, re-applies what is missing.
// It stops at the first error, returning what it did so far.
func Run(ctx context.Context, from string, src Source, dst Target, apply bool) (Report, error) {
	rep := Report{From: from, Items: []Item{}}
	ps, err := src.Payments(ctx)
	if err != nil {
		return rep, fmt.Errorf("reading the old primary's payments: %w", err)
	}
	rep.Scanned = len(ps)
	for _, p := range ps {
		id, err := dst.Lookup(ctx, p.Key)
		if err != nil {
			return rep, fmt.Errorf("looking up key %q in the writer: %w", p.Key, err)
		}
		it := Item{Payment: p, Outcome: Missing}
		switch {
		case id == p.ID:
			continue // replicated before the failover
		case id != "":
			it.Outcome, it.ExistingID = Conflict, id
		case apply:
			out, err := dst.Apply(ctx, p)
			if err != nil {
				return rep, fmt.Errorf("re-applying payment %s (key %q): %w", p.ID, p.Key, err)
			}
			it.Outcome = out
			if out == Conflict {
				it.ExistingID, _ = dst.Lookup(ctx, p.Key)
			}
			if out == Present {
				continue
			}
		}
		rep.Items = append(rep.Items, it)
	}
	return rep, nil
}
