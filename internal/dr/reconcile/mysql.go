package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL is a Source and a Target over the payments schema (migrations/).
type MySQL struct{ DB *sql.DB }

// OpenMySQL connects with a go-sql-driver DSN naming the database.
func OpenMySQL(ctx context.Context, dsn string) (*MySQL, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("reconcile: bad DSN: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("reconcile: the DSN names no database")
	}
	cfg.ParseTime, cfg.Loc = true, time.UTC
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("reconcile: %s@%s/%s: %w", cfg.User, cfg.Addr, cfg.DBName, err)
	}
	return &MySQL{DB: db}, nil
}

const selectPayments = `SELECT id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref,
  session_id, status, COALESCE(failure_reason, ''), region, created_at FROM payments ORDER BY created_at, id`

// Payments implements Source: every payment with its ledger entries.
func (m *MySQL) Payments(ctx context.Context) ([]Payment, error) {
	rows, err := m.DB.QueryContext(ctx, selectPayments)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Payment
	index := map[string]int{}
	for rows.Next() {
		var p Payment
		if err := rows.Scan(&p.ID, &p.Key, &p.RequestHash, &p.Amount, &p.Currency, &p.MerchantRef, &p.CustomerRef,
			&p.SessionID, &p.Status, &p.FailureReason, &p.Region, &p.CreatedAt); err != nil {
			return nil, err
		}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, m.ledger(ctx, out, index)
}

func (m *MySQL) ledger(ctx context.Context, ps []Payment, index map[string]int) error {
	rows, err := m.DB.QueryContext(ctx, `SELECT payment_id, account, direction, amount, currency, created_at FROM ledger_entries ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var e LedgerEntry
		if err := rows.Scan(&id, &e.Account, &e.Direction, &e.Amount, &e.Currency, &e.CreatedAt); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			ps[i].Ledger = append(ps[i].Ledger, e)
		}
	}
	return rows.Err()
}

// Lookup implements Target.
func (m *MySQL) Lookup(ctx context.Context, key string) (string, error) {
	var id string
	err := m.DB.QueryRowContext(ctx, `SELECT id FROM payments WHERE idempotency_key = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// OutboxInsert queues a re-applied payment's event in the writer's
// transactional outbox (migrations/0003_outbox.sql), due at once.
const OutboxInsert = "INSERT INTO payment_outbox (payment_id, created_at, next_attempt_at) VALUES (?, ?, ?)"

// Apply implements Target: the payment and its ledger entries in one
// transaction. The unique idempotency key decides: if it is taken
// meanwhile, nothing is written and the holder decides Present/Conflict.
// Ledger ids are not copied (auto-increment: they collide).
func (m *MySQL) Apply(ctx context.Context, p Payment) (Outcome, error) {
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var failure any
	if p.FailureReason != "" {
		failure = p.FailureReason
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref,
  session_id, status, failure_reason, region, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Key, p.RequestHash, p.Amount, p.Currency, p.MerchantRef, p.CustomerRef, p.SessionID, p.Status, failure, p.Region, p.CreatedAt)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // duplicate key
		tx.Rollback()
		return m.taken(ctx, p)
	}
	if err != nil {
		return "", err
	}
	for _, e := range p.Ledger {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, e.Account, e.Direction, e.Amount, e.Currency, e.CreatedAt); err != nil {
			return "", fmt.Errorf("ledger entry %s %s: %w", e.Direction, e.Account, err)
		}
	}
	// The payment's event goes out through the writer's outbox (at least
	// once: the old Region may have published it before it was lost).
	if _, err := tx.ExecContext(ctx, OutboxInsert, p.ID, time.Now().UTC(), time.Now().UTC()); err != nil {
		return "", fmt.Errorf("outbox row: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	return Applied, nil
}

func (m *MySQL) taken(ctx context.Context, p Payment) (Outcome, error) {
	id, err := m.Lookup(ctx, p.Key)
	switch {
	case err != nil:
		return "", err
	case id == p.ID:
		return Present, nil
	case id != "":
		return Conflict, nil
	}
	return "", fmt.Errorf("payment id %s already exists under another idempotency key", p.ID)
}

// Close closes the connection pool.
func (m *MySQL) Close() error { return m.DB.Close() }

// DSNAccess opens the old Region's database and the writer's by DSN (the
// DR lab's admin DSNs, or a restored cluster's).
type DSNAccess struct {
	Old    map[string]string // Region -> DSN of its (old primary's) database
	Writer string
}

// Open implements Access.
func (a DSNAccess) Open(ctx context.Context, oldRegion string) (Source, Target, func(context.Context) error, error) {
	dsn, ok := a.Old[oldRegion]
	if !ok {
		return nil, nil, nil, fmt.Errorf("no database of %s to reconcile from", oldRegion)
	}
	src, err := OpenMySQL(ctx, dsn)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("old primary (%s): %w", oldRegion, err)
	}
	dst, err := OpenMySQL(ctx, a.Writer)
	if err != nil {
		src.Close()
		return nil, nil, nil, fmt.Errorf("writer: %w", err)
	}
	return src, dst, func(context.Context) error { return errors.Join(src.Close(), dst.Close()) }, nil
}
