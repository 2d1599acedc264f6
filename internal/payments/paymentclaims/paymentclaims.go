// Package paymentclaims implements payments.Journal over the payment
// journal's DynamoDB table (package claims).
package paymentclaims

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// Journal adapts a claims.Journal to the payment domain.
type Journal struct{ J *claims.Journal }

var _ payments.Journal = Journal{}

func claimOf(p payments.Payment, hash string) claims.Claim {
	status := claims.StatusProcessed
	if p.Status == payments.StatusFailed {
		status = claims.StatusDeclined
	}
	return claims.Claim{Key: p.IdempotencyKey, PaymentID: p.ID, RequestHash: hash, Amount: p.Amount, Currency: p.Currency,
		MerchantRef: p.MerchantRef, CustomerRef: p.CustomerRef, SessionID: p.SessionID, Status: status,
		FailureReason: p.FailureReason, Region: p.Region, ClaimedAt: p.CreatedAt}
}

// claimStates maps the journal's claim states onto the domain's.
var claimStates = map[string]string{
	claims.StatePending: payments.ClaimPending, claims.StateCommitted: payments.ClaimCommitted, claims.StateAborted: payments.ClaimAborted,
}

// Claimed turns a claim back into the payment it recreates.
func Claimed(c claims.Claim, isNew bool) payments.Claimed {
	status := payments.StatusProcessed
	if c.Status == claims.StatusDeclined {
		status = payments.StatusFailed
	}
	return payments.Claimed{Hash: c.RequestHash, New: isNew, State: claimStates[c.State], Payment: payments.Payment{
		ID: c.PaymentID, IdempotencyKey: c.Key, Amount: c.Amount, Currency: c.Currency, MerchantRef: c.MerchantRef,
		CustomerRef: c.CustomerRef, SessionID: c.SessionID, Status: status, FailureReason: c.FailureReason,
		Region: c.Region, CreatedAt: c.ClaimedAt.UTC(),
	}}
}

// domainErr maps the journal's errors onto the domain's: unavailable
// means not applied, anything else about a write is an unknown outcome.
func domainErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, claims.ErrAborted):
		return fmt.Errorf("%w: %v", payments.ErrClaimAborted, err)
	case errors.Is(err, claims.ErrCommitted):
		return fmt.Errorf("%w: %v", payments.ErrClaimCommitted, err)
	case errors.Is(err, claims.ErrOutcomeUnknown):
		return fmt.Errorf("%w: %v", payments.ErrOutcomeUnknown, err)
	case errors.Is(err, claims.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %v", payments.ErrUnavailable, err)
	}
	return err
}

// Claim implements payments.Journal.
func (j Journal) Claim(ctx context.Context, p payments.Payment, hash string) (payments.Claimed, error) {
	got, err := j.J.Claim(ctx, claimOf(p, hash))
	if err != nil {
		return payments.Claimed{}, domainErr(err)
	}
	return Claimed(got.Claim, got.New), nil
}

// Held implements payments.Journal.
func (j Journal) Held(ctx context.Context, key string) (payments.Claimed, bool, error) {
	c, found, err := j.J.Get(ctx, key)
	if err != nil || !found {
		return payments.Claimed{}, false, domainErr(err)
	}
	return Claimed(c, false), true, nil
}

// Commit implements payments.Journal. A move writes the claim item whole
// again, so Commit and Abort take the payment and hash that claimed it.
func (j Journal) Commit(ctx context.Context, p payments.Payment, hash string) error {
	return domainErr(j.J.Commit(ctx, claimOf(p, hash)))
}

// Abort implements payments.Journal.
func (j Journal) Abort(ctx context.Context, p payments.Payment, hash string) error {
	return domainErr(j.J.Abort(ctx, claimOf(p, hash)))
}

// Retime implements payments.Journal.
func (j Journal) Retime(ctx context.Context, p payments.Payment, hash string, at time.Time) error {
	return domainErr(j.J.Retime(ctx, claimOf(p, hash), at))
}

// Window implements payments.Journal.
func (j Journal) Window(ctx context.Context, from, to time.Time, fn func(payments.Claimed) error) error {
	return domainErr(j.J.Window(ctx, from, to, func(c claims.Claim) error { return fn(Claimed(c, false)) }))
}

// Sweep implements payments.Journal.
func (j Journal) Sweep(ctx context.Context, now time.Time, retention time.Duration) (int, error) {
	res, err := j.J.Sweep(ctx, now, retention)
	return res.Removed, domainErr(err)
}

// Writer implements payments.Journal.
func (j Journal) Writer(ctx context.Context) (payments.WriterRecord, bool, error) {
	w, found, err := j.J.ReadWriter(ctx)
	return payments.WriterRecord{Region: w.Region, Epoch: w.Epoch}, found, domainErr(err)
}

// BootstrapWriter implements payments.Journal: epoch 1 for region unless a
// record stands, which is returned.
func (j Journal) BootstrapWriter(ctx context.Context, region string) (payments.WriterRecord, error) {
	w, err := j.J.SetWriter(ctx, region, 0, "payment service "+region+" (first writer)", time.Now())
	if errors.Is(err, claims.ErrEpochMoved) && w.Region != "" {
		err = nil
	}
	return payments.WriterRecord{Region: w.Region, Epoch: w.Epoch}, domainErr(err)
}
