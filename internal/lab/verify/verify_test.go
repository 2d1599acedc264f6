package verify

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

func insertPayment(t *testing.T, db *sql.DB, id, key string, amount int64, currency, status string) {
	t.Helper()
	_, err := db.Exec(`INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref,
 session_id, status, region, created_at) VALUES (?, ?, ?, ?, ?, 'm', 'c', 's', ?, 'us-east-1', ?)`,
		id, key, strings.Repeat("0", 64), amount, currency, status, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
}

func insertEntry(t *testing.T, db *sql.DB, id, direction string, amount int64, currency string) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at)
 VALUES (?, 'a', ?, ?, ?, ?)`, id, direction, amount, currency, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
}

func pid(n byte) string { return strings.Repeat(string('a'+n), 32) }

// Every kind of violation verify names is planted in a real database
// and found; a clean payment and a listed loss are not violations.
func TestVerifyFindsEachViolation(t *testing.T) {
	_, admin, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	insertPayment(t, admin, pid(0), "good", 100, "USD", "processed")
	insertEntry(t, admin, pid(0), "debit", 100, "USD")
	insertEntry(t, admin, pid(0), "credit", 100, "USD")
	insertPayment(t, admin, pid(1), "one-sided", 50, "EUR", "processed") // debit only: unbalanced, EUR imbalance
	insertEntry(t, admin, pid(1), "debit", 50, "EUR")
	insertPayment(t, admin, pid(2), "wrong-amount", 70, "GBP", "processed") // credit of another amount
	insertEntry(t, admin, pid(2), "debit", 70, "GBP")
	insertEntry(t, admin, pid(2), "credit", 60, "GBP")
	insertPayment(t, admin, pid(3), "failed-with-money", 10, "JPY", "failed") // a failed payment moved money
	insertEntry(t, admin, pid(3), "debit", 10, "JPY")
	insertEntry(t, admin, pid(3), "credit", 10, "JPY")
	at := time.Now().UTC()
	ack := func(key, id string) acks.Ack {
		return acks.Ack{Key: key, PaymentID: id, Amount: 1, Currency: "USD", Status: 201, At: at}
	}
	list := []acks.Ack{ack("good", pid(0)), ack("lost-listed", pid(5)), ack("lost-unlisted", pid(6)),
		ack("twice", pid(7)), ack("twice", pid(8)), ack("wrong-amount", pid(2))}
	rep, err := Run(context.Background(), admin, list, map[string]bool{"lost-listed": true, "good": true})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("missing", rep.Missing, "lost-unlisted", "twice")
	check("double-charged", rep.DoubleCharged, "twice")
	check("unbalanced", rep.Unbalanced, pid(1), pid(2), pid(3))
	check("currencies", rep.CurrencyImbalance, "EUR", "GBP")
	check("listed lost but present", rep.LostButPresent, "good")
	if rep.OK() || rep.Acked != 5 || rep.Present != 2 || rep.Lost != 1 || rep.Payments != 4 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(rep.Text(), "VIOLATIONS") {
		t.Fatalf("text: %s", rep.Text())
	}
}

// An acknowledged key stored under another payment id is not the
// acknowledged payment: the client was told of a payment the writer does
// not hold, so it counts as missing (or lost, when listed), never present.
func TestVerifyKeyUnderAnotherPaymentIsMissing(t *testing.T) {
	_, admin, _ := paymentstest.Database(t, "PAYMENTS_TEST_MYSQL_DSN", "PAYMENTS_TEST_MYSQL_ADMIN_DSN")
	insertPayment(t, admin, pid(0), "swapped", 100, "USD", "processed")
	insertEntry(t, admin, pid(0), "debit", 100, "USD")
	insertEntry(t, admin, pid(0), "credit", 100, "USD")
	insertPayment(t, admin, pid(2), "swapped-listed", 100, "USD", "processed")
	insertEntry(t, admin, pid(2), "debit", 100, "USD")
	insertEntry(t, admin, pid(2), "credit", 100, "USD")
	at := time.Now().UTC()
	list := []acks.Ack{{Key: "swapped", PaymentID: pid(1), Amount: 100, Currency: "USD", Status: 201, At: at},
		{Key: "swapped-listed", PaymentID: pid(3), Amount: 100, Currency: "USD", Status: 201, At: at}}
	rep, err := Run(context.Background(), admin, list, map[string]bool{"swapped-listed": true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Present != 0 || rep.Lost != 1 || strings.Join(rep.Missing, ",") != "swapped" || len(rep.LostButPresent) != 0 || rep.OK() {
		t.Fatalf("an acknowledged key stored under another payment id: %+v", rep)
	}
}

// fakeClaims is a journal with the claims the test puts in it.
type fakeClaims map[string][2]string // key -> payment id, state

func (f fakeClaims) Claim(_ context.Context, key string) (string, string, bool, error) {
	c, ok := f[key]
	return c[0], c[1], ok, nil
}

// The lies only a client that never retries can see: a payment present
// behind answers that all said "not applied" (in the writer or in the
// other Region's database), an acknowledged key whose claim is not
// committed with its id, and a key charged under two ids in two
// databases. An outcome_unknown or a dropped answer promises nothing.
func TestVerifyFindsTheLiesOfOneShotAnswers(t *testing.T) {
	_, writer, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	_, other, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	insertPayment(t, writer, pid(0), "acked", 100, "USD", "failed")
	insertPayment(t, writer, pid(1), "refused-but-here", 100, "USD", "failed")
	insertPayment(t, writer, pid(2), "unknown-and-here", 100, "USD", "failed")
	insertPayment(t, other, pid(3), "refused-in-the-old-writer", 100, "USD", "failed")
	insertPayment(t, writer, pid(4), "two-ids", 100, "USD", "failed")
	insertPayment(t, other, pid(5), "two-ids", 100, "USD", "failed")
	at := time.Now().UTC()
	answer := func(key string, status int, code, id string) acks.Ack {
		return acks.Ack{Key: key, PaymentID: id, Amount: 100, Currency: "USD", Status: status, Code: code, At: at}
	}
	list := []acks.Ack{
		answer("acked", 201, "", pid(0)),
		answer("refused-but-here", 503, "backend_unavailable", ""),
		answer("unknown-and-here", 503, "outcome_unknown", ""),
		answer("refused-in-the-old-writer", 503, "region_not_writer", ""),
		answer("refused-and-absent", 503, "region_read_only", ""),
		answer("dropped", 0, "", ""),
		answer("two-ids", 201, "", pid(4)),
		answer("acked-uncommitted", 201, "", pid(6)),
	}
	for _, a := range list {
		if err := a.Validate(); err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
	}
	rep, err := Run(context.Background(), writer, list, map[string]bool{"acked-uncommitted": true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.CheckOther(context.Background(), writer, other, list); err != nil {
		t.Fatal(err)
	}
	claims := fakeClaims{"acked": {pid(0), Committed}, "two-ids": {pid(4), Committed}, "acked-uncommitted": {pid(6), "pending"}}
	if err := rep.CheckClaims(context.Background(), claims, list); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Phantoms, " "); got != "refused-but-here refused-in-the-old-writer" {
		t.Errorf("phantoms %q", got)
	}
	if got := strings.Join(rep.Unclaimed, " "); got != "acked-uncommitted" || rep.ClaimsChecked != 3 {
		t.Errorf("unclaimed %q of %d", got, rep.ClaimsChecked)
	}
	if got := strings.Join(rep.DoubleCharged, " "); got != "two-ids" {
		t.Errorf("double-charged %q", got)
	}
	if rep.Refused != 3 || rep.Acked != 3 || rep.OK() {
		t.Errorf("refused %d, acked %d, ok %v:\n%s", rep.Refused, rep.Acked, rep.OK(), rep.Text())
	}
}
