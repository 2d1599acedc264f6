// Package mysqlstore keeps payments and their ledger in Aurora MySQL (or any
// MySQL 8.0 / MariaDB 10.11 server): one transaction per payment, the
// idempotency key enforced by a unique index.
package mysqlstore

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// Store implements payments.Store.
type Store struct {
	db  *sql.DB
	ids connIDs
}

// New wraps an open database handle.
func New(db *sql.DB) *Store { return &Store{db: db} }

// Open opens a pool with settings suited to a Lambda instance, which
// serves one request at a time: few connections, recycled quickly so a
// Region switch (the cluster endpoint moving to another instance) is
// picked up within a minute even without errors.
func Open(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.InterpolateParams = true // one round trip per statement instead of prepare+execute
	cfg.MultiStatements = true   // the payment transaction is sent as one batch (createBatch)
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	cfg.Loc = time.UTC
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(time.Minute)
	return db, nil
}

// selectPayment reads a payment with whether its event is still unsent.
const selectPayment = `SELECT p.id, p.idempotency_key, p.request_hash, p.amount, p.currency, p.merchant_ref, p.customer_ref,
 p.session_id, p.status, COALESCE(p.failure_reason, ''), p.region, p.created_at, o.payment_id IS NOT NULL AND o.sent_at IS NULL
 FROM payments p LEFT JOIN payment_outbox o ON o.payment_id = p.id`

// Create implements payments.Store. The outcome is always certain unless
// the error wraps payments.ErrOutcomeUnknown: a transaction whose answer
// was lost is settled (settle.go) before Create returns.
func (s *Store) Create(ctx context.Context, p payments.Payment, hash string) (payments.Stored, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var st payments.Stored
		st, err = s.tryCreate(ctx, p, hash)
		// A deadlock rolled the transaction back, and a stale pooled
		// connection sent nothing: both are safe to try again.
		if mysqlCode(err) == 1213 || errors.Is(err, driver.ErrBadConn) {
			continue
		}
		return st, err
	}
	return payments.Stored{}, fmt.Errorf("%w: %v", payments.ErrUnavailable, err)
}

func (s *Store) tryCreate(ctx context.Context, p payments.Payment, hash string) (payments.Stored, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	// The batch gets the request's time minus what settling needs.
	bctx, cancel := context.WithDeadline(ctx, deadline.Add(-SettleReserve))
	defer cancel()
	conn, err := s.db.Conn(bctx)
	if err != nil { // no connection: nothing was sent
		return payments.Stored{}, notSent(err)
	}
	defer conn.Close()
	id, err := s.ids.of(bctx, conn)
	if err != nil {
		s.drop(conn)
		if errors.Is(err, driver.ErrBadConn) { // a stale pooled connection: Create tries another
			return payments.Stored{}, err
		}
		return payments.Stored{}, notSent(err)
	}
	query, args := createBatch(p, hash, lockWait(time.Until(deadline)))
	_, err = conn.ExecContext(bctx, query, args...)
	switch {
	case err == nil:
		return payments.Stored{Payment: p, Hash: hash, New: true, EventPending: true}, nil
	case errors.Is(err, driver.ErrBadConn): // the driver wrote nothing
		s.drop(conn)
		return payments.Stored{}, err
	case ambiguous(err):
		s.drop(conn)
		return s.settle(ctx, id, p, err)
	}
	// A statement failed on the server, so the batch stopped before its
	// COMMIT: roll the open transaction back before the connection is
	// reused. A connection whose ROLLBACK fails is never reused (closing
	// it rolls back).
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	_, rbErr := conn.ExecContext(rctx, "ROLLBACK")
	rcancel()
	clean := rbErr == nil
	if !clean || errors.Is(classify(err), payments.ErrReadOnly) {
		// Also after a read-only answer: after a switchover the endpoint
		// name points elsewhere, and the next request must connect afresh.
		s.drop(conn)
	}
	if DuplicateKey(err) { // duplicate idempotency key: the first request won and has committed
		// Read on the same connection when it is clean: taking a second
		// one from the pool while holding this one can exhaust it under a
		// burst of duplicates.
		q := selectPayment + " WHERE p.idempotency_key = ?"
		var row *sql.Row
		if clean {
			row = conn.QueryRowContext(ctx, q, p.IdempotencyKey)
		} else {
			row = s.db.QueryRowContext(ctx, q, p.IdempotencyKey)
		}
		return s.scanStored(row)
	}
	if mysqlCode(err) == 1205 { // lock wait bounded by lockWait: rolled back
		return payments.Stored{}, fmt.Errorf("%w: not applied: %v", payments.ErrUnavailable, err)
	}
	return payments.Stored{}, classify(err)
}

// DefaultTimeout bounds a Create whose context has no deadline.
const DefaultTimeout = 25 * time.Second

// lockWait is the batch's innodb_lock_wait_timeout: a lock held by
// another transaction ends the statement with a clean error (1205, rolled
// back) before the request's deadline, instead of a statement that is
// still waiting on the server when the client gives up.
func lockWait(remaining time.Duration) int {
	n := int((remaining-SettleReserve)/time.Second) - 1
	return min(max(n, 1), 5)
}

// createBatch is the whole transaction as one multi-statement batch, one
// round trip to the writer: bound the lock wait; START TRANSACTION; INSERT
// payment; INSERT ledger pair; INSERT outbox row; COMMIT. Values are
// escaped by the driver (interpolateParams); every statement is a
// constant of this file.
func createBatch(p payments.Payment, hash string, lockWaitSeconds int) (string, []any) {
	var q strings.Builder
	fmt.Fprintf(&q, "SET SESSION innodb_lock_wait_timeout = %d;\nSTART TRANSACTION;\n", lockWaitSeconds)
	var args []any
	for _, st := range InsertRow(NewRow(p, hash), p.CreatedAt, p.CreatedAt.Add(payments.InlineGrace)) {
		q.WriteString(st.SQL)
		q.WriteString(";\n")
		args = append(args, st.Args...)
	}
	q.WriteString("COMMIT")
	return q.String(), args
}

// drop makes database/sql close conn instead of returning it to the pool.
func (s *Store) drop(conn *sql.Conn) {
	s.ids.forget(conn)
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// notSent wraps an error that happened before the batch was sent.
func notSent(err error) error {
	if c := classify(err); errors.Is(c, payments.ErrReadOnly) || errors.Is(c, payments.ErrUnavailable) {
		return c
	}
	return fmt.Errorf("%w: %v", payments.ErrUnavailable, err)
}

// Get implements payments.Store.
func (s *Store) Get(ctx context.Context, id string) (payments.Payment, error) {
	st, err := s.scanStored(s.db.QueryRowContext(ctx, selectPayment+" WHERE p.id = ?", id))
	return st.Payment, err
}

// Present implements payments.Store.
func (s *Store) Present(ctx context.Context, ids []string) (map[string]bool, error) {
	if len(ids) > payments.MaxPresentBatch {
		return nil, fmt.Errorf("present: %d ids, at most %d in one read", len(ids), payments.MaxPresentBatch)
	}
	held := map[string]bool{}
	if len(ids) == 0 {
		return held, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, PaymentsWithIDs(len(ids)), args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, classify(err)
		}
		held[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return held, nil
}

type scanner interface{ Scan(dest ...any) error }

func (s *Store) scanStored(row scanner) (payments.Stored, error) {
	var st payments.Stored
	p := &st.Payment
	err := row.Scan(&p.ID, &p.IdempotencyKey, &st.Hash, &p.Amount, &p.Currency, &p.MerchantRef, &p.CustomerRef,
		&p.SessionID, &p.Status, &p.FailureReason, &p.Region, &p.CreatedAt, &st.EventPending)
	if errors.Is(err, sql.ErrNoRows) {
		return payments.Stored{}, payments.ErrNotFound
	}
	if err != nil {
		return payments.Stored{}, classify(err)
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return st, nil
}

// Writable implements payments.Store: Aurora reports a secondary (and a
// demoted primary) with innodb_read_only, MySQL/MariaDB with read_only.
func (s *Store) Writable(ctx context.Context) (bool, error) {
	var readOnly, innodbReadOnly int
	err := s.db.QueryRowContext(ctx, "SELECT @@global.read_only, @@global.innodb_read_only").Scan(&readOnly, &innodbReadOnly)
	if err != nil {
		return false, classify(err)
	}
	return readOnly == 0 && innodbReadOnly == 0, nil
}

// MarkWriter implements payments.Store. VALUES() in ON DUPLICATE KEY
// UPDATE is what both MariaDB 10.11 and MySQL 8.0 (Aurora MySQL 3) accept.
func (s *Store) MarkWriter(ctx context.Context, region string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO writer_marks (region, marked_at) VALUES (?, ?)
ON DUPLICATE KEY UPDATE marked_at = GREATEST(marked_at, VALUES(marked_at))`, region, at.UTC())
	return classify(err)
}

// WriterMark implements payments.Store.
func (s *Store) WriterMark(ctx context.Context, region string) (time.Time, bool, error) {
	var at time.Time
	err := s.db.QueryRowContext(ctx, "SELECT marked_at FROM writer_marks WHERE region = ?", region).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, classify(err)
	}
	return at.UTC(), true, nil
}

// Clock implements payments.Store: UTC_TIMESTAMP(6), which MariaDB 10.11
// and MySQL 8.0 (Aurora MySQL 3) both have.
func (s *Store) Clock(ctx context.Context) (time.Time, error) {
	var at time.Time
	if err := s.db.QueryRowContext(ctx, "SELECT UTC_TIMESTAMP(6)").Scan(&at); err != nil {
		return time.Time{}, classify(err)
	}
	return at.UTC(), nil
}

// classify maps driver errors to the domain's retryable errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch mysqlCode(err) {
	case 1290, 1792, 1836, 1036: // --read-only, read-only transaction, read-only mode, table read-only
		return fmt.Errorf("%w: %v", payments.ErrReadOnly, err)
	case 1040, 1053, 2002, 2003, 2006, 2013: // too many connections, shutdown, cannot connect, gone away, lost
		return fmt.Errorf("%w: %v", payments.ErrUnavailable, err)
	}
	var ne net.Error
	var cve *tls.CertificateVerificationError
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, mysql.ErrNoTLS) || errors.As(err, &cve) {
		return fmt.Errorf("%w: %v", payments.ErrUnavailable, err)
	}
	return err
}

func mysqlCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}
