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
	"io/fs"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/migrations"
)

// Store implements payments.Store.
type Store struct{ db *sql.DB }

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

const insertPayment = `INSERT INTO payments
 (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, failure_reason, region, created_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const selectPayment = `SELECT id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status,
 COALESCE(failure_reason, ''), region, created_at FROM payments`

// Create implements payments.Store. InnoDB may report a deadlock when
// duplicates race on the unique key; the transaction is then retried.
func (s *Store) Create(ctx context.Context, p payments.Payment, hash string) (payments.Payment, string, bool, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var stored payments.Payment
		var storedHash string
		var created bool
		stored, storedHash, created, err = s.tryCreate(ctx, p, hash)
		if mysqlCode(err) == 1213 || mysqlCode(err) == 1205 { // deadlock, lock wait timeout
			continue
		}
		return stored, storedHash, created, err
	}
	return payments.Payment{}, "", false, classify(err)
}

func (s *Store) tryCreate(ctx context.Context, p payments.Payment, hash string) (payments.Payment, string, bool, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil { // no connection: nothing was sent, the request can be retried
		if c := classify(err); errors.Is(c, payments.ErrReadOnly) || errors.Is(c, payments.ErrUnavailable) {
			return payments.Payment{}, "", false, c
		}
		return payments.Payment{}, "", false, fmt.Errorf("%w: %v", payments.ErrUnavailable, err)
	}
	defer conn.Close()
	query, args := createBatch(p, hash)
	_, err = conn.ExecContext(ctx, query, args...)
	if err == nil {
		return p, hash, true, nil
	}
	// The server stops a batch at its first failing statement, so the
	// transaction may still be open: roll it back before anything else
	// uses the connection (a lost connection rolls back by itself).
	if !errors.Is(classify(err), payments.ErrUnavailable) {
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	if mysqlCode(err) == 1062 { // duplicate idempotency key: the first request won and has committed
		// Read on the same connection: taking a second one from the pool
		// while holding this one can exhaust it under a burst of duplicates.
		existing, existingHash, err := s.scanOne(conn.QueryRowContext(ctx, selectPayment+" WHERE idempotency_key = ?", p.IdempotencyKey))
		return existing, existingHash, false, err
	}
	return payments.Payment{}, "", false, s.fail(conn, err)
}

// createBatch is the whole transaction as one multi-statement batch, one
// round trip to the writer instead of four (begin, payment, ledger,
// commit): START TRANSACTION; INSERT payment; INSERT ledger pair; COMMIT.
// Values are escaped by the driver (interpolateParams); every statement
// is a constant of this file.
func createBatch(p payments.Payment, hash string) (string, []any) {
	var reason any
	if p.FailureReason != "" {
		reason = p.FailureReason
	}
	var q strings.Builder
	q.WriteString("START TRANSACTION;\n")
	q.WriteString(insertPayment)
	q.WriteString(";\n")
	args := []any{p.ID, p.IdempotencyKey, hash, p.Amount, p.Currency, p.MerchantRef, p.CustomerRef, p.SessionID, p.Status, reason, p.Region, p.CreatedAt}
	if entries := p.Ledger(); len(entries) > 0 {
		q.WriteString("INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at) VALUES ")
		q.WriteString(strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?),", len(entries)), ","))
		q.WriteString(";\n")
		for _, e := range entries {
			args = append(args, p.ID, e.Account, e.Direction, e.Amount, e.Currency, p.CreatedAt)
		}
	}
	q.WriteString("COMMIT")
	return q.String(), args
}

// fail classifies err and, when the database turned out to be read-only,
// discards the connection: after a switchover the endpoint's DNS name
// points elsewhere, and the next request must connect afresh.
func (s *Store) fail(conn *sql.Conn, err error) error {
	c := classify(err)
	if errors.Is(c, payments.ErrReadOnly) {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	if mysqlCode(err) == 1213 || mysqlCode(err) == 1205 {
		return err // retried by Create
	}
	return c
}

// Get implements payments.Store.
func (s *Store) Get(ctx context.Context, id string) (payments.Payment, error) {
	p, _, err := s.scanOne(s.db.QueryRowContext(ctx, selectPayment+" WHERE id = ?", id))
	return p, err
}

func (s *Store) scanOne(row *sql.Row) (payments.Payment, string, error) {
	var p payments.Payment
	var hash string
	err := row.Scan(&p.ID, &p.IdempotencyKey, &hash, &p.Amount, &p.Currency, &p.MerchantRef, &p.CustomerRef,
		&p.SessionID, &p.Status, &p.FailureReason, &p.Region, &p.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return payments.Payment{}, "", payments.ErrNotFound
	}
	if err != nil {
		return payments.Payment{}, "", classify(err)
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, hash, nil
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
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mysql.ErrNoTLS) || errors.As(err, &cve) {
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

// Migrate applies the shipped migrations not yet recorded, in name order,
// under a named lock so concurrent starters do not race.
func Migrate(ctx context.Context, db *sql.DB) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('payment_dr_migrations', 30)").Scan(&got); err != nil || got.Int64 != 1 {
		return nil, fmt.Errorf("migrations: could not take the migration lock: %v", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK('payment_dr_migrations')") //nolint:errcheck
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
  version VARCHAR(128) NOT NULL PRIMARY KEY, applied_at DATETIME(6) NOT NULL) ENGINE=InnoDB`); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", name).Scan(&n); err != nil {
			return applied, fmt.Errorf("migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return applied, err
		}
		for _, stmt := range splitStatements(string(body)) {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return applied, fmt.Errorf("migration %s: %w", name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", name, time.Now().UTC()); err != nil {
			return applied, fmt.Errorf("migration %s: %w", name, err)
		}
		applied = append(applied, name)
	}
	return applied, nil
}

// splitStatements splits a migration on semicolons that end a line,
// dropping comment-only lines. Migrations hold plain DDL, no routines.
func splitStatements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
