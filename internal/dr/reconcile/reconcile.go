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

	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// Source is the old primary's data, read page by page from the window
// that can hold lost payments.
type Source interface {
	// Newest returns when the newest payment was created (zero if none).
	Newest(ctx context.Context) (time.Time, error)
	// Page returns at most limit payments, each with its ledger lines,
	// created at or after after.CreatedAt and after the cursor in
	// (created_at, id) order.
	Page(ctx context.Context, after Cursor, limit int) ([]mysqlstore.Row, error)
}

// Cursor is a position in (created_at, id) order.
type Cursor struct {
	CreatedAt time.Time
	ID        string
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
	// Holders returns, for each of keys the writer holds, the id of the
	// payment holding it; keys it does not hold are absent.
	Holders(ctx context.Context, keys []string) (map[string]string, error)
	// Apply inserts r and its ledger lines in one transaction through its
	// idempotency key; if the key is taken meanwhile it reports Present
	// (same id) or Conflict (another id) and changes nothing.
	Apply(ctx context.Context, r mysqlstore.Row) (Outcome, error)
}

// Access opens the old Region's data and the current writer's. release
// frees what Open created (on AWS the temporary cluster restored from the
// kept snapshot) and must be called even when reconcile fails.
type Access interface {
	Open(ctx context.Context, oldRegion string) (src Source, dst Target, release func(context.Context) error, err error)
}

// Item is one payment of the old primary that the new writer lacks.
type Item struct {
	mysqlstore.Row
	Outcome Outcome `json:"outcome"`
	// ExistingID is the new writer's payment under the same key (conflicts).
	ExistingID string `json:"existingId,omitempty"`
}

// Report is the result of a reconcile.
type Report struct {
	From string `json:"from"`
	// Since is where the window read began (created_at).
	Since   time.Time `json:"since"`
	Scanned int       `json:"scanned"`
	Items   []Item    `json:"items"`
	// FirstMissing: the oldest payment of the window is not in the writer
	// either, so the loss may begin before the window (a lag above the
	// budget): run again with an earlier Since.
	FirstMissing bool `json:"firstMissing,omitempty"`
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

// Margin widens the window beyond the lag budget: a payment's created_at
// is stamped when its request starts, up to the request's timeout before
// it commits, and the lag can exceed the budget for the alarm's
// evaluation period before anyone acts.
const Margin = 5 * time.Minute

// PageSize is how many payments one read returns. A payment row is at
// most about 1.2 KB of Data API JSON (a 255-byte key is 340 in base64)
// and its two ledger lines about 0.5 KB: 500 stay well inside the Data
// API's 1 MiB response limit.
const PageSize = 500

// Options says what Run reads and whether it writes.
type Options struct {
	Apply bool
	// Since is where the window begins; if zero, the old primary's newest
	// payment minus LagBudget and Margin (the old primary took no write
	// after the move: its Region was lost, then fenced and demoted).
	Since     time.Time
	LagBudget time.Duration
	// PageSize overrides PageSize (tests).
	PageSize int
}

// Window is where Run begins reading: opts.Since, or the old primary's
// newest payment minus the lag budget and Margin. ok is false when the
// old primary has no payment.
func Window(ctx context.Context, src Source, opts Options) (since time.Time, ok bool, err error) {
	if !opts.Since.IsZero() {
		return opts.Since.UTC(), true, nil
	}
	newest, err := src.Newest(ctx)
	if err != nil || newest.IsZero() {
		return time.Time{}, false, err
	}
	return newest.Add(-opts.LagBudget - Margin).UTC(), true, nil
}

// Run compares the window of src with dst and, with opts.Apply,
// re-applies what is missing. It reads the window page by page and looks
// the keys of each page up in one call, so its cost grows with the
// window, not with the tables. It stops at the first error, returning
// what it did so far.
func Run(ctx context.Context, from string, src Source, dst Target, opts Options) (Report, error) {
	rep := Report{From: from, Items: []Item{}}
	since, ok, err := Window(ctx, src, opts)
	if err != nil {
		return rep, fmt.Errorf("reading the old primary's newest payment: %w", err)
	}
	if !ok {
		return rep, nil
	}
	rep.Since = since
	size := opts.PageSize
	if size <= 0 {
		size = PageSize
	}
	cur := Cursor{CreatedAt: since}
	for {
		page, err := src.Page(ctx, cur, size)
		if err != nil {
			return rep, fmt.Errorf("reading the old primary's payments from %s: %w", cur.CreatedAt.Format(time.RFC3339Nano), err)
		}
		if len(page) == 0 {
			return rep, nil
		}
		if err := runPage(ctx, &rep, page, dst, opts.Apply); err != nil {
			return rep, err
		}
		last := page[len(page)-1]
		cur = Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		if len(page) < size {
			return rep, nil
		}
	}
}

func runPage(ctx context.Context, rep *Report, page []mysqlstore.Row, dst Target, apply bool) error {
	keys := make([]string, len(page))
	for i, r := range page {
		keys[i] = r.IdempotencyKey
	}
	holders, err := dst.Holders(ctx, keys)
	if err != nil {
		return fmt.Errorf("looking up %d keys in the writer: %w", len(keys), err)
	}
	for _, r := range page {
		first := rep.Scanned == 0
		rep.Scanned++
		it := Item{Row: r, Outcome: Missing}
		id := holders[r.IdempotencyKey]
		switch {
		case id == r.ID:
			continue // replicated before the failover
		case id != "":
			it.Outcome, it.ExistingID = Conflict, id
		case apply:
			out, err := dst.Apply(ctx, r)
			if err != nil {
				return fmt.Errorf("re-applying payment %s (key %q): %w", r.ID, r.IdempotencyKey, err)
			}
			if it.Outcome = out; out == Present {
				continue
			}
			if out == Conflict {
				h, _ := dst.Holders(ctx, []string{r.IdempotencyKey})
				it.ExistingID = h[r.IdempotencyKey]
			}
		}
		rep.FirstMissing = rep.FirstMissing || first
		rep.Items = append(rep.Items, it)
	}
	return nil
}
