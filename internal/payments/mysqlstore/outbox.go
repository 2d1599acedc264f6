package mysqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// ClaimEvent implements payments.OutboxStore: one row, unless a request
// within its grace or a sweep's lease holds it (a row whose attempts have
// failed is free at once).
func (s *Store) ClaimEvent(ctx context.Context, id string, now time.Time, lease time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE payment_outbox SET next_attempt_at = ?, claim_token = NULL
	 WHERE payment_id = ? AND sent_at IS NULL AND (attempts > 0 OR next_attempt_at <= ?)`, now.Add(lease), id, now)
	if err != nil {
		return false, classify(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClaimDue implements payments.OutboxStore. One UPDATE claims the due rows
// under a fresh token (concurrent sweeps wait on each other's row locks
// and then find the rows no longer due), the SELECT reads them back.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]payments.Payment, error) {
	token := payments.NewID()
	res, err := s.db.ExecContext(ctx, `UPDATE payment_outbox SET claim_token = ?, next_attempt_at = ?
	 WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`, token, now.Add(lease), now, limit)
	if err != nil {
		return nil, classify(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, selectPayment+" WHERE o.claim_token = ? AND o.sent_at IS NULL", token)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []payments.Payment
	for rows.Next() {
		st, err := s.scanStored(rows)
		if err != nil {
			return out, err
		}
		out = append(out, st.Payment)
	}
	return out, classify(rows.Err())
}

// MarkSent implements payments.OutboxStore.
func (s *Store) MarkSent(ctx context.Context, ids []string, at time.Time) error {
	q, args := inList(`UPDATE payment_outbox SET sent_at = ?, claim_token = NULL WHERE payment_id IN `, ids, at)
	_, err := s.db.ExecContext(ctx, q, args...)
	return classify(err)
}

// Retry implements payments.OutboxStore.
func (s *Store) Retry(ctx context.Context, ids []string, next time.Time) error {
	q, args := inList(`UPDATE payment_outbox SET attempts = attempts + 1, next_attempt_at = ?, claim_token = NULL
	 WHERE sent_at IS NULL AND payment_id IN `, ids, next)
	_, err := s.db.ExecContext(ctx, q, args...)
	return classify(err)
}

// inList appends "(?, ?, ...)" for ids to q; first is the statement's
// leading argument.
func inList(q string, ids []string, first any) (string, []any) {
	args := make([]any, 0, len(ids)+1)
	args = append(args, first)
	for _, id := range ids {
		args = append(args, id)
	}
	return q + "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args
}
