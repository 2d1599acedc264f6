package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
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

// Newest implements Source.
func (m *MySQL) Newest(ctx context.Context) (time.Time, error) {
	var t sql.NullTime
	err := m.DB.QueryRowContext(ctx, mysqlstore.NewestPayment).Scan(&t)
	return t.Time.UTC(), err
}

// Page implements Source.
func (m *MySQL) Page(ctx context.Context, after Cursor, limit int) ([]mysqlstore.Row, error) {
	rows, err := m.DB.QueryContext(ctx, mysqlstore.PageAfter(limit), after.CreatedAt, after.CreatedAt, after.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mysqlstore.Row
	for rows.Next() {
		var r mysqlstore.Row
		var key []byte
		var failure sql.NullString
		if err := rows.Scan(&r.ID, &key, &r.RequestHash, &r.Amount, &r.Currency, &r.MerchantRef, &r.CustomerRef,
			&r.SessionID, &r.Status, &failure, &r.Region, &r.CreatedAt); err != nil {
			return nil, err
		}
		r.IdempotencyKey, r.FailureReason, r.CreatedAt = string(key), failure.String, r.CreatedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	return out, m.ledger(ctx, out)
}

func (m *MySQL) ledger(ctx context.Context, page []mysqlstore.Row) error {
	ids := make([]any, len(page))
	index := map[string]int{}
	for i, r := range page {
		ids[i], index[r.ID] = r.ID, i
	}
	rows, err := m.DB.QueryContext(ctx, mysqlstore.LedgerOf(len(ids)), ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l mysqlstore.LedgerLine
		if err := rows.Scan(&id, &l.Account, &l.Direction, &l.Amount, &l.Currency, &l.CreatedAt); err != nil {
			return err
		}
		l.CreatedAt = l.CreatedAt.UTC()
		page[index[id]].Ledger = append(page[index[id]].Ledger, l)
	}
	return rows.Err()
}

// Holders implements Target.
func (m *MySQL) Holders(ctx context.Context, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = []byte(k)
	}
	rows, err := m.DB.QueryContext(ctx, mysqlstore.KeyHolders(len(keys)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var key []byte
		var id string
		if err := rows.Scan(&key, &id); err != nil {
			return nil, err
		}
		out[string(key)] = id
	}
	return out, rows.Err()
}

// Apply implements Target: the payment, its ledger lines and its outbox
// row (due at once: the writer's sweep publishes the event, at least once,
// since the old Region may have published it before it was lost) in one
// transaction. The unique idempotency key decides: if it is taken
// meanwhile, nothing is written and its holder decides Present/Conflict.
func (m *MySQL) Apply(ctx context.Context, r mysqlstore.Row) (Outcome, error) {
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	for _, st := range mysqlstore.InsertRow(r, now, now) {
		_, err := tx.ExecContext(ctx, st.SQL, st.Args...)
		if mysqlstore.DuplicateKey(err) {
			tx.Rollback()
			return Taken(ctx, m, r)
		}
		if err != nil {
			return "", err
		}
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	return Applied, nil
}

// Taken decides what a refused insert of r means: the writer holds r
// under its key (Present) or another payment does (Conflict). Its id
// taken under another key is an error for a person to look at.
func Taken(ctx context.Context, dst Target, r mysqlstore.Row) (Outcome, error) {
	h, err := dst.Holders(ctx, []string{r.IdempotencyKey})
	id := h[r.IdempotencyKey]
	switch {
	case err != nil:
		return "", err
	case id == r.ID:
		return Present, nil
	case id != "":
		return Conflict, nil
	}
	return "", fmt.Errorf("payment id %s already exists under another idempotency key", r.ID)
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
