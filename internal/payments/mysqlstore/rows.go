package mysqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// This file is the one home of the SQL that writes the payment tables
// (migrations/) and of the reads that copy a payment from one database to
// another: the payment service's transaction (createBatch) and drctl
// reconcile, over a MySQL connection or the RDS Data API, all use it. A
// new column is added here and in the migration, nowhere else.

// Row is a payment as the tables hold it: the domain payment, the hash of
// the request that created it, and its ledger lines as written.
type Row struct {
	payments.Payment
	RequestHash string       `json:"requestHash"`
	Ledger      []LedgerLine `json:"ledger,omitempty"`
}

// LedgerLine is one ledger_entries row; its auto-increment id belongs to
// the database that holds it and is never copied.
type LedgerLine struct {
	payments.LedgerEntry
	CreatedAt time.Time `json:"createdAt"`
}

// NewRow is the row the payment service writes for p: its ledger entries
// are the domain's, stamped with the payment's time.
func NewRow(p payments.Payment, hash string) Row {
	r := Row{Payment: p, RequestHash: hash}
	for _, e := range p.Ledger() {
		r.Ledger = append(r.Ledger, LedgerLine{LedgerEntry: e, CreatedAt: p.CreatedAt})
	}
	return r
}

// Stmt is one SQL statement with its arguments, in the order of its ?
// placeholders. The idempotency key is passed as []byte: the column is
// VARBINARY, compared byte for byte.
type Stmt struct {
	SQL  string
	Args []any
}

// InsertRow returns the statements that write r, to be run in one
// transaction: the payment, its ledger lines, and its outbox row, queued
// at queued and due at due.
func InsertRow(r Row, queued, due time.Time) []Stmt { return InsertRows([]Row{r}, queued, due) }

// InsertRows is InsertRow for many rows at once: one multi-row INSERT per
// table (bulk loads; keep a batch under the server's max_allowed_packet).
func InsertRows(rows []Row, queued, due time.Time) []Stmt {
	var pay, ledger, outbox []any
	lines := 0
	for _, r := range rows {
		var reason any
		if r.FailureReason != "" {
			reason = r.FailureReason
		}
		p := r.Payment
		pay = append(pay, p.ID, []byte(p.IdempotencyKey), r.RequestHash, p.Amount, p.Currency, p.MerchantRef,
			p.CustomerRef, p.SessionID, p.Status, reason, p.Region, p.CreatedAt)
		for _, e := range r.Ledger {
			ledger = append(ledger, p.ID, e.Account, e.Direction, e.Amount, e.Currency, e.CreatedAt)
			lines++
		}
		outbox = append(outbox, p.ID, queued, due)
	}
	if len(rows) == 0 {
		return nil
	}
	out := []Stmt{{SQL: insertPayments + placeholders(len(rows), "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), Args: pay}}
	if lines > 0 {
		out = append(out, Stmt{SQL: insertLedger + placeholders(lines, "(?, ?, ?, ?, ?, ?)"), Args: ledger})
	}
	return append(out, Stmt{SQL: insertOutbox + placeholders(len(rows), "(?, ?, ?)"), Args: outbox})
}

const (
	insertPayments = "INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, failure_reason, region, created_at) VALUES "
	insertLedger   = "INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at) VALUES "
	insertOutbox   = "INSERT INTO payment_outbox (payment_id, created_at, next_attempt_at) VALUES "
)

func placeholders(n int, one string) string {
	return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
}

// RowColumns are the payments columns a Row is read from, in the order
// the readers scan them.
const RowColumns = `id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, failure_reason, region, created_at`

// NewestPayment is when the newest payment was created (NULL if none);
// the index ix_payments_created answers it without a scan.
const NewestPayment = `SELECT MAX(created_at) AS newest FROM payments`

// PageAfter reads, through ix_payments_created (migration 0004), at most
// limit payments created at or after the cursor's time, after the cursor
// in (created_at, id) order. Its arguments: cursor time, cursor time,
// cursor id. The range is written out (not a row comparison) so that
// MariaDB 10.11 and Aurora MySQL 3 both use the index for it.
func PageAfter(limit int) string {
	return fmt.Sprintf(`SELECT %s FROM payments WHERE created_at >= ? AND (created_at > ? OR id > ?) ORDER BY created_at, id LIMIT %d`, RowColumns, limit)
}

// LedgerOf reads the ledger lines of n payments (arguments: their ids),
// through uq_ledger_payment_direction.
func LedgerOf(n int) string {
	return `SELECT payment_id, account, direction, amount, currency, created_at FROM ledger_entries WHERE payment_id IN (` +
		placeholders(n, "?") + `) ORDER BY id`
}

// PaymentsWithIDs reads which of n payment ids (the arguments) the
// payments table holds, through its primary key.
func PaymentsWithIDs(n int) string {
	return `SELECT id FROM payments WHERE id IN (` + placeholders(n, "?") + `)`
}

// KeyHolders reads which payment holds each of n idempotency keys
// (arguments: the keys, as []byte), through uq_payments_idempotency_key.
func KeyHolders(n int) string {
	return `SELECT idempotency_key, id FROM payments WHERE idempotency_key IN (` + placeholders(n, "?") + `)`
}

// erDupEntry is MySQL's and MariaDB's ER_DUP_ENTRY: a unique key (the
// idempotency key, or the id) is taken.
const erDupEntry = 1062

// DuplicateKey reports whether err is the server refusing a row whose
// unique key another row holds.
func DuplicateKey(err error) bool { return mysqlCode(err) == erDupEntry }

// DuplicateKeyMessage reports whether msg is the server's text of that
// error ("Duplicate entry '%s' for key '%s'"), for clients that receive
// the message without its number (the RDS Data API).
func DuplicateKeyMessage(msg string) bool { return strings.Contains(msg, "Duplicate entry '") }
