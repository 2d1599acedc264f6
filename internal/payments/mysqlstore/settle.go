package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// SettleReserve is the part of a request's time kept for settling a
// transaction whose answer was lost.
const SettleReserve = 2 * time.Second

// ambiguous reports whether err, returned after the batch was sent, leaves
// its outcome open. A statement error from the server is certain (the
// batch stops there, before its COMMIT, or the COMMIT itself failed);
// a lost connection, a timeout or a cancelled context is not: the server
// may still be running the batch, and may commit it.
func ambiguous(err error) bool {
	switch mysqlCode(err) {
	case 0:
		return true
	case 1053, 1152, 1153, 1158, 1159, 1160, 1161, 1317, 1927, 3169, 4031:
		// shutdown, aborted connection, network errors, interrupted,
		// connection killed, session killed, disconnected for inactivity
		return true
	}
	return false
}

// settle makes an unknown outcome certain before the request is answered.
// It first ends the batch's server thread (KILL CONNECTION from another
// connection, then waits until the thread is gone: a statement still
// queued there could otherwise commit after a read-back says it did not),
// then reads the key back. It needs no privilege beyond the application
// user's: a user may kill and list its own threads.
func (s *Store) settle(ctx context.Context, connID uint64, p payments.Payment, cause error) (payments.Stored, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleReserve)
	defer cancel()
	unknown := func(err error) (payments.Stored, error) {
		return payments.Stored{}, fmt.Errorf("%w: %v (settling it: %v)", payments.ErrOutcomeUnknown, cause, err)
	}
	if _, err := s.db.ExecContext(sctx, "KILL CONNECTION ?", connID); err != nil && mysqlCode(err) != 1094 { // 1094: no such thread
		return unknown(err)
	}
	for {
		var n int
		err := s.db.QueryRowContext(sctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", connID).Scan(&n)
		if err != nil {
			return unknown(err)
		}
		if n == 0 {
			break
		}
		select {
		case <-sctx.Done():
			return unknown(sctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	st, err := s.scanStored(s.db.QueryRowContext(sctx, selectPayment+" WHERE p.idempotency_key = ?", p.IdempotencyKey))
	switch {
	case errors.Is(err, payments.ErrNotFound):
		return payments.Stored{}, fmt.Errorf("%w: not applied (the transaction was ended and not committed): %v", payments.ErrUnavailable, cause)
	case err != nil:
		return unknown(err)
	}
	st.New = st.Payment.ID == p.ID // ours committed; otherwise another request's did
	return st, nil
}

// connIDs caches each pooled connection's server thread id (one query per
// connection, not per request), so a batch can be killed from another
// connection. Keys are the driver's connection values; the cache is
// emptied when it outgrows the pool, which only costs a query again.
type connIDs struct {
	mu sync.Mutex
	m  map[any]uint64
}

const maxCachedIDs = 64

func (c *connIDs) of(ctx context.Context, conn *sql.Conn) (uint64, error) {
	var key any
	_ = conn.Raw(func(dc any) error { key = dc; return nil })
	c.mu.Lock()
	id, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedIDs {
		c.m = map[any]uint64{}
	}
	c.m[key] = id
	c.mu.Unlock()
	return id, nil
}

func (c *connIDs) forget(conn *sql.Conn) {
	var key any
	_ = conn.Raw(func(dc any) error { key = dc; return nil })
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// Warm opens a connection and learns its thread id, so the first request
// finds both ready (done during the Lambda's init).
func (s *Store) Warm(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = s.ids.of(ctx, conn)
	return err
}
