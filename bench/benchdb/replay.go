package benchdb

import (
	"context"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// Replayed is what a replay of a window did, as drctl's replay-journal
// step would have.
type Replayed struct {
	Replayed, Present, Released int
	Chunks, Calls               int
}

// Replay replays [from, to] through svc as drctl does: dr.ReplayChunk at
// a time, each call with the payment function's time, and a chunk asked
// again while its answer is incomplete.
func Replay(ctx context.Context, svc *payments.Service, from, to time.Time) (Replayed, error) {
	var r Replayed
	for start := from; !start.After(to); start = start.Add(dr.ReplayChunk) {
		end := start.Add(dr.ReplayChunk - time.Nanosecond)
		if end.After(to) {
			end = to
		}
		r.Chunks++
		chunk := 0
		for {
			cctx, cancel := context.WithTimeout(ctx, naming.PaymentFunctionTimeout)
			res, err := svc.ReplayJournal(cctx, start, end)
			cancel()
			if err != nil {
				return r, err
			}
			r.Calls, chunk, r.Replayed = r.Calls+1, chunk+len(res.Replayed), r.Replayed+len(res.Replayed)
			if !res.Incomplete {
				// An answer's Present counts what earlier pages replayed.
				r.Present, r.Released = r.Present+max(res.Present-(chunk-len(res.Replayed)), 0), r.Released+res.Released
				break
			}
		}
	}
	return r, nil
}
