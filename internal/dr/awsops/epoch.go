package awsops

import (
	"context"
	"fmt"

	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/dr"
)

// writerRecord is the payment journal's writer record through region's
// replica. MRSC serves strongly consistent reads and conditional writes
// from either replica once a majority of the Regions answer (DynamoDB
// developer guide, "Multi-Region strong consistency").
func (a *AWS) writerRecord(region string) (*claims.Journal, error) {
	c, ok := a.Regions[region]
	if !ok || c.DynamoDB == nil {
		return nil, fmt.Errorf("no DynamoDB client for %s", region)
	}
	return claims.WriterRecordOf(c.DynamoDB, a.names().JournalTable()), nil
}

// JournalWriter implements dr.Epochs.
func (a *AWS) JournalWriter(ctx context.Context, via string) (dr.WriterEpoch, bool, error) {
	j, err := a.writerRecord(via)
	if err != nil {
		return dr.WriterEpoch{}, false, err
	}
	w, found, err := j.ReadWriter(ctx)
	return dr.WriterEpoch(w), found, err
}

// SetJournalWriter implements dr.Epochs.
func (a *AWS) SetJournalWriter(ctx context.Context, target string, prev int64, setBy string) (dr.WriterEpoch, error) {
	j, err := a.writerRecord(target)
	if err != nil {
		return dr.WriterEpoch{}, err
	}
	w, err := j.SetWriter(ctx, target, prev, setBy, a.Now())
	return dr.WriterEpoch(w), err
}
