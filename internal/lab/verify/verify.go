// Package verify is `drlab verify`: it reads the current writer's
// database directly, not through the service, and checks every
// acknowledged payment against it and the ledger against itself.
package verify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
)

// Report is verify's result.
type Report struct {
	Acked int `json:"acked"` // distinct acknowledged keys
	// Present: acked and found with the acknowledged payment id.
	Present int `json:"present"`
	// Lost: acked, missing, and listed in --lost (an accepted loss).
	Lost int `json:"lost"`
	// Missing: acked, missing and not listed: a violation.
	Missing []string `json:"missing"`
	// LostButPresent: listed as lost, yet present (re-applied by a
	// reconcile, or never lost): reported, not a violation.
	LostButPresent []string `json:"lostButPresent"`
	// DoubleCharged: keys with more than one payment, in the database or
	// acknowledged with two different payment ids.
	DoubleCharged []string `json:"doubleCharged"`
	// Unbalanced: processed payments without exactly one debit and one
	// credit of their amount and currency.
	Unbalanced []string `json:"unbalanced"`
	// CurrencyImbalance: currencies whose debits and credits differ.
	CurrencyImbalance []string `json:"currencyImbalance"`
	Payments          int      `json:"payments"` // rows in the writer
	// Refused: keys whose every answer said "not applied" (a client that
	// never retries); Phantoms: such keys with a payment in a database, a
	// lie the service told.
	Refused  int      `json:"refused"`
	Phantoms []string `json:"phantoms"`
	// ClaimsChecked: acknowledged keys whose journal claim was read;
	// Unclaimed: acknowledged keys whose claim is missing, not committed,
	// or another payment's.
	ClaimsChecked int      `json:"claimsChecked"`
	Unclaimed     []string `json:"unclaimed"`
	// NotCompared names the other databases that could not be read (a
	// Region that is down): keys charged only there are not compared.
	NotCompared []string `json:"notCompared,omitempty"`
}

// OK reports whether nothing was violated.
func (r Report) OK() bool {
	return len(r.Missing) == 0 && len(r.DoubleCharged) == 0 && len(r.Phantoms) == 0 && len(r.Unclaimed) == 0 &&
		len(r.Unbalanced) == 0 && len(r.CurrencyImbalance) == 0
}

// refusedKeys are the keys whose every answer was a certain failure.
func refusedKeys(ackList []acks.Ack) map[string]bool {
	refused := map[string]bool{}
	for _, a := range ackList {
		if _, seen := refused[a.Key]; !seen {
			refused[a.Key] = true
		}
		if !a.CertainFailure() {
			refused[a.Key] = false
		}
	}
	for k, only := range refused {
		if !only {
			delete(refused, k)
		}
	}
	return refused
}

// Run checks ackList (and the lost keys) against db.
func Run(ctx context.Context, db *sql.DB, ackList []acks.Ack, lost map[string]bool) (Report, error) {
	var r Report
	byKey := map[string]string{}
	for _, a := range ackList {
		if !a.Acknowledged() {
			continue
		}
		if prev, ok := byKey[a.Key]; ok && prev != a.PaymentID {
			r.DoubleCharged = append(r.DoubleCharged, a.Key)
		}
		byKey[a.Key] = a.PaymentID
	}
	r.Acked = len(byKey)
	stored, err := storedKeys(ctx, db)
	if err != nil {
		return r, err
	}
	r.Payments = len(stored)
	refused := refusedKeys(ackList)
	r.Refused = len(refused)
	for key := range refused {
		if _, ok := stored[key]; ok {
			r.Phantoms = append(r.Phantoms, key)
		}
	}
	for key, id := range byKey {
		got, ok := stored[key]
		switch {
		case ok && got == id:
			r.Present++
			if lost[key] {
				r.LostButPresent = append(r.LostButPresent, key)
			}
		case lost[key]:
			r.Lost++
		default:
			r.Missing = append(r.Missing, key)
		}
	}
	if err := ledgerChecks(ctx, db, &r); err != nil {
		return r, err
	}
	for _, s := range [][]string{r.Missing, r.LostButPresent, r.DoubleCharged, r.Unbalanced, r.CurrencyImbalance, r.Phantoms} {
		sort.Strings(s)
	}
	return r, nil
}

// CheckOther reads another Region's database (the old writer's): a key it
// holds under another payment id than the writer is charged twice, and a
// refused key it holds is a phantom too.
func (r *Report) CheckOther(ctx context.Context, writer, other *sql.DB, ackList []acks.Ack) error {
	w, err := storedKeys(ctx, writer)
	if err != nil {
		return err
	}
	o, err := storedKeys(ctx, other)
	if err != nil {
		return fmt.Errorf("the other Region's database: %w", err)
	}
	for key, id := range o {
		if wid, ok := w[key]; ok && wid != id {
			r.DoubleCharged = append(r.DoubleCharged, key)
		}
	}
	for key := range refusedKeys(ackList) {
		if _, inOther := o[key]; inOther && !slices.Contains(r.Phantoms, key) {
			r.Phantoms = append(r.Phantoms, key)
		}
	}
	sort.Strings(r.Phantoms)
	sort.Strings(r.DoubleCharged)
	r.DoubleCharged = slices.Compact(r.DoubleCharged)
	return nil
}

// ClaimReader reads a key's journal claim (strongly consistent).
type ClaimReader interface {
	Claim(ctx context.Context, key string) (paymentID, state string, found bool, err error)
}

// Committed is the state of a claim whose payment is in a database.
const Committed = "committed"

// CheckClaims reads the claim of every acknowledged key, 16 at a time:
// each must be committed with the acknowledged payment id.
func (r *Report) CheckClaims(ctx context.Context, claims ClaimReader, ackList []acks.Ack) error {
	want := map[string]string{}
	for _, a := range ackList {
		if a.Acknowledged() {
			want[a.Key] = a.PaymentID
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	var mu sync.Mutex
	for key, id := range want {
		g.Go(func() error {
			got, state, found, err := claims.Claim(gctx, key)
			if err != nil {
				return fmt.Errorf("reading the claim of %q: %w", key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			r.ClaimsChecked++
			if !found || got != id || state != Committed {
				r.Unclaimed = append(r.Unclaimed, key)
			}
			return nil
		})
	}
	err := g.Wait()
	sort.Strings(r.Unclaimed)
	return err
}

// storedKeys maps each idempotency key to its payment id; a key stored
// twice (which the unique index must prevent) is reported by ledgerChecks.
func storedKeys(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT idempotency_key, id FROM payments")
	if err != nil {
		return nil, fmt.Errorf("reading payments: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		out[k] = id
	}
	return out, rows.Err()
}

func ledgerChecks(ctx context.Context, db *sql.DB, r *Report) error {
	queries := []struct {
		q   string
		dst *[]string
	}{
		{`SELECT idempotency_key FROM payments GROUP BY idempotency_key HAVING COUNT(*) > 1`, &r.DoubleCharged},
		// Each processed payment: exactly one debit and one credit, each
		// of its amount and currency; a failed payment has none.
		{`SELECT p.id FROM payments p LEFT JOIN ledger_entries l ON l.payment_id = p.id
GROUP BY p.id, p.status, p.amount, p.currency
HAVING (p.status = 'processed' AND NOT (
    SUM(l.direction = 'debit') = 1 AND SUM(l.direction = 'credit') = 1 AND COUNT(l.id) = 2
    AND SUM(l.amount <> p.amount OR l.currency <> p.currency) = 0))
 OR (p.status <> 'processed' AND COUNT(l.id) > 0)`, &r.Unbalanced},
		{`SELECT l.payment_id FROM ledger_entries l LEFT JOIN payments p ON p.id = l.payment_id WHERE p.id IS NULL`, &r.Unbalanced},
		{`SELECT currency FROM ledger_entries GROUP BY currency
HAVING SUM(CASE WHEN direction = 'debit' THEN amount ELSE 0 END) <> SUM(CASE WHEN direction = 'credit' THEN amount ELSE 0 END)`, &r.CurrencyImbalance},
	}
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q.q)
		if err != nil {
			return fmt.Errorf("ledger check: %w", err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return err
			}
			*q.dst = append(*q.dst, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Text renders the report for people.
func (r Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "acknowledged %d, present %d, lost (listed) %d, missing (unlisted) %d, listed lost but present %d\n",
		r.Acked, r.Present, r.Lost, len(r.Missing), len(r.LostButPresent))
	fmt.Fprintf(&b, "payments in the writer %d, double-charged keys %d, unbalanced payments %d, unbalanced currencies %d\n",
		r.Payments, len(r.DoubleCharged), len(r.Unbalanced), len(r.CurrencyImbalance))
	fmt.Fprintf(&b, "refused (every answer \"not applied\") %d, present anyway (phantoms) %d; claims read %d, acknowledged without a committed claim %d\n",
		r.Refused, len(r.Phantoms), r.ClaimsChecked, len(r.Unclaimed))
	show := func(name string, xs []string) {
		if len(xs) == 0 {
			return
		}
		if len(xs) > 20 {
			xs = append(xs[:20:20], fmt.Sprintf("... and %d more", len(xs)-20))
		}
		fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(xs, " "))
	}
	show("missing", r.Missing)
	show("listed lost but present", r.LostButPresent)
	show("double-charged", r.DoubleCharged)
	show("phantoms", r.Phantoms)
	show("acknowledged without a committed claim", r.Unclaimed)
	for _, n := range r.NotCompared {
		fmt.Fprintf(&b, "not compared: %s\n", n)
	}
	show("unbalanced", r.Unbalanced)
	show("unbalanced currencies", r.CurrencyImbalance)
	if r.OK() {
		b.WriteString("OK\n")
	} else {
		b.WriteString("VIOLATIONS\n")
	}
	return b.String()
}
