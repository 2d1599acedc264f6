package awsops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	rdsdatatypes "github.com/aws/aws-sdk-go-v2/service/rdsdata/types"

	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
)

type paymentRow struct {
	ID            string  `json:"id"`
	Key           string  `json:"idempotency_key"`
	RequestHash   string  `json:"request_hash"`
	Amount        int64   `json:"amount"`
	Currency      string  `json:"currency"`
	MerchantRef   string  `json:"merchant_ref"`
	CustomerRef   string  `json:"customer_ref"`
	SessionID     string  `json:"session_id"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	Region        string  `json:"region"`
	CreatedAt     string  `json:"created_at"`
}

type ledgerRow struct {
	PaymentID string `json:"payment_id"`
	Account   string `json:"account"`
	Direction string `json:"direction"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	CreatedAt string `json:"created_at"`
}

func parseTime(s string) (time.Time, error) { return time.ParseInLocation(dateTime, s, time.UTC) }

// Payments implements reconcile.Source.
func (d *DataSQL) Payments(ctx context.Context) ([]reconcile.Payment, error) {
	out, err := d.exec(ctx, "", `SELECT id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, failure_reason, region, created_at FROM payments ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	rows, err := records[paymentRow](out)
	if err != nil {
		return nil, err
	}
	ps := make([]reconcile.Payment, 0, len(rows))
	index := map[string]int{}
	for _, r := range rows {
		at, err := parseTime(r.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("payment %s: created_at %q: %w", r.ID, r.CreatedAt, err)
		}
		index[r.ID] = len(ps)
		ps = append(ps, reconcile.Payment{ID: r.ID, Key: r.Key, RequestHash: r.RequestHash, Amount: r.Amount, Currency: r.Currency,
			MerchantRef: r.MerchantRef, CustomerRef: r.CustomerRef, SessionID: r.SessionID, Status: r.Status,
			FailureReason: aws.ToString(r.FailureReason), Region: r.Region, CreatedAt: at})
	}
	out, err = d.exec(ctx, "", `SELECT payment_id, account, direction, amount, currency, created_at FROM ledger_entries ORDER BY id`)
	if err != nil {
		return nil, err
	}
	ledger, err := records[ledgerRow](out)
	if err != nil {
		return nil, err
	}
	for _, l := range ledger {
		at, err := parseTime(l.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("ledger of %s: created_at %q: %w", l.PaymentID, l.CreatedAt, err)
		}
		if i, ok := index[l.PaymentID]; ok {
			ps[i].Ledger = append(ps[i].Ledger, reconcile.LedgerEntry{Account: l.Account, Direction: l.Direction, Amount: l.Amount, Currency: l.Currency, CreatedAt: at})
		}
	}
	return ps, nil
}

// Lookup implements reconcile.Target.
func (d *DataSQL) Lookup(ctx context.Context, key string) (string, error) {
	out, err := d.exec(ctx, "", `SELECT id FROM payments WHERE idempotency_key = :key`, str("key", key))
	if err != nil {
		return "", err
	}
	rows, err := records[struct {
		ID string `json:"id"`
	}](out)
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0].ID, nil
}

// Apply implements reconcile.Target: one Data API transaction; a taken
// idempotency key (MySQL's duplicate-entry error) writes nothing.
func (d *DataSQL) Apply(ctx context.Context, p reconcile.Payment) (reconcile.Outcome, error) {
	tx, err := d.Client.BeginTransaction(ctx, &rdsdata.BeginTransactionInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), Database: aws.String(d.Database)})
	if err != nil {
		return "", err
	}
	id := aws.ToString(tx.TransactionId)
	err = d.insert(ctx, id, p)
	if err != nil {
		_, rerr := d.Client.RollbackTransaction(ctx, &rdsdata.RollbackTransactionInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), TransactionId: aws.String(id)})
		var bad *rdsdatatypes.BadRequestException
		if errors.As(err, &bad) && strings.Contains(aws.ToString(bad.Message), "Duplicate entry") {
			return d.taken(ctx, p)
		}
		return "", errors.Join(err, rerr)
	}
	if _, err := d.Client.CommitTransaction(ctx, &rdsdata.CommitTransactionInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), TransactionId: aws.String(id)}); err != nil {
		return "", err
	}
	return reconcile.Applied, nil
}

func (d *DataSQL) insert(ctx context.Context, tx string, p reconcile.Payment) error {
	failure := rdsdatatypes.SqlParameter{Name: aws.String("failure"), Value: &rdsdatatypes.FieldMemberIsNull{Value: true}}
	if p.FailureReason != "" {
		failure = str("failure", p.FailureReason)
	}
	_, err := d.exec(ctx, tx, `INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref, session_id, status, failure_reason, region, created_at)
VALUES (:id, :key, :hash, :amount, :currency, :merchant, :customer, :session, :status, :failure, :region, :created)`,
		str("id", p.ID), str("key", p.Key), str("hash", p.RequestHash), num("amount", p.Amount), str("currency", p.Currency),
		str("merchant", p.MerchantRef), str("customer", p.CustomerRef), str("session", p.SessionID), str("status", p.Status),
		failure, str("region", p.Region), stamp("created", p.CreatedAt))
	if err != nil {
		return err
	}
	for _, e := range p.Ledger {
		if _, err := d.exec(ctx, tx, `INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at) VALUES (:id, :account, :direction, :amount, :currency, :created)`,
			str("id", p.ID), str("account", e.Account), str("direction", e.Direction), num("amount", e.Amount), str("currency", e.Currency), stamp("created", e.CreatedAt)); err != nil {
			return fmt.Errorf("ledger entry %s %s: %w", e.Direction, e.Account, err)
		}
	}
	// The event goes out through the writer's outbox, due at once.
	now := time.Now().UTC()
	if _, err := d.exec(ctx, tx, `INSERT INTO payment_outbox (payment_id, created_at, next_attempt_at) VALUES (:id, :created, :due)`,
		str("id", p.ID), stamp("created", now), stamp("due", now)); err != nil {
		return fmt.Errorf("outbox row: %w", err)
	}
	return nil
}

func (d *DataSQL) taken(ctx context.Context, p reconcile.Payment) (reconcile.Outcome, error) {
	id, err := d.Lookup(ctx, p.Key)
	switch {
	case err != nil:
		return "", err
	case id == p.ID:
		return reconcile.Present, nil
	case id != "":
		return reconcile.Conflict, nil
	}
	return "", fmt.Errorf("payment id %s already exists under another idempotency key", p.ID)
}

var (
	_ reconcile.Source = (*DataSQL)(nil)
	_ reconcile.Target = (*DataSQL)(nil)
	_ reconcile.Access = (*ReconcileAccess)(nil)
)
