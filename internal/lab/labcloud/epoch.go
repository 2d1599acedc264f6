package labcloud

import (
	"context"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// writerRecord is the journal's writer record through region's endpoint
// of the lab's MRSC stand-in: the same journal code the services run,
// against the same consensus.
func (c *Cloud) writerRecord(region string) (*claims.Journal, error) {
	ep := c.State.JournalEndpoints[region]
	if ep == "" {
		return nil, fmt.Errorf("the lab has no journal endpoint for %s", region)
	}
	return claims.WriterRecordOf(backends.DynamoDB(ep, region), naming.New(c.Lab.Environment, "").JournalTable()), nil
}

// JournalWriter implements dr.Epochs.
func (c *Cloud) JournalWriter(ctx context.Context, via string) (dr.WriterEpoch, bool, error) {
	j, err := c.writerRecord(via)
	if err != nil {
		return dr.WriterEpoch{}, false, err
	}
	w, found, err := j.ReadWriter(ctx)
	return dr.WriterEpoch(w), found, err
}

// SetJournalWriter implements dr.Epochs.
func (c *Cloud) SetJournalWriter(ctx context.Context, target string, prev int64, setBy string) (dr.WriterEpoch, error) {
	j, err := c.writerRecord(target)
	if err != nil {
		return dr.WriterEpoch{}, err
	}
	w, err := j.SetWriter(ctx, target, prev, setBy, time.Now())
	return dr.WriterEpoch(w), err
}
