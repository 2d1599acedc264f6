package labcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/payments"
)

var _ dr.JournalReplayer = (*Cloud)(nil)

// replayTimeout bounds one ReplayJournal call, its repeated requests
// included: the service bounds each request's replay by the payment
// function's timeout (naming.PaymentFunctionTimeout) and answers
// Incomplete when it stops early, and the lab's windows hold a few
// thousand claims at most.
const replayTimeout = 2 * time.Minute

// replayAttempts bound the retries of a replay the service answered 503:
// right after a partition or a move the journal may still be electing its
// leader for a second or two.
const replayAttempts = 5

// ReplayJournal asks region's payment service to complete every payment
// claimed in the journal in [from, to] that its database lacks: POST
// /internal/replay-journal on the service's loopback address, the lab's
// form of the replayJournal invocation of the payment function, with the
// same answer: one that stopped at its page or its time bound is
// Incomplete, and the caller asks again for the same window. A replay is
// idempotent (a completed payment is present the next time), so one the
// service answered 503 is run again; the keys every attempt replayed are
// reported together.
func (c *Cloud) ReplayJournal(ctx context.Context, region string, from, to time.Time) (payments.ReplayResult, error) {
	r, ok := c.Lab.Regions[region]
	if !ok {
		return payments.ReplayResult{}, fmt.Errorf("%q is not a Region of the lab", region)
	}
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	all := payments.ReplayResult{Replayed: []payments.ReplayedKey{}}
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, unavailable, err := c.replayOnce(ctx, region, r.InvokeURL, from, to)
		earlier := len(all.Replayed)
		all.Replayed = append(all.Replayed, res.Replayed...)
		all.Present, all.Released = max(res.Present-earlier, 0), res.Released
		all.Incomplete, all.Stopped = res.Incomplete, res.Stopped
		if err == nil || !unavailable || attempt == replayAttempts || ctx.Err() != nil {
			return all, err
		}
		select {
		case <-ctx.Done():
			return all, err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// replayOnce makes one replay request; unavailable is true for a 503.
func (c *Cloud) replayOnce(ctx context.Context, region, invokeURL string, from, to time.Time) (payments.ReplayResult, bool, error) {
	var res payments.ReplayResult
	body, _ := json.Marshal(map[string]string{"from": from.UTC().Format(time.RFC3339Nano), "to": to.UTC().Format(time.RFC3339Nano)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, invokeURL+"/internal/replay-journal", bytes.NewReader(body))
	if err != nil {
		return res, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return res, false, fmt.Errorf("replaying the journal in %s: %w", region, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return res, false, fmt.Errorf("replaying the journal in %s: reading the answer: %w", region, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		_ = json.Unmarshal(data, &res) // what was replayed before the failure
		if e.Error == "" {
			e.Error = string(bytes.TrimSpace(data))
		}
		return res, resp.StatusCode == http.StatusServiceUnavailable, fmt.Errorf("replaying the journal in %s: %s: %s", region, resp.Status, e.Error)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, false, fmt.Errorf("replaying the journal in %s: answer %q: %w", region, data, err)
	}
	return res, false, nil
}

// ReplayWindowAfter asks region's payment service which window to replay
// after taking over from old: POST /internal/replay-window on its
// loopback address, the lab's form of the replayWindowAfter invocation.
func (c *Cloud) ReplayWindowAfter(ctx context.Context, region, old string) (payments.ReplayBounds, error) {
	r, ok := c.Lab.Regions[region]
	if !ok {
		return payments.ReplayBounds{}, fmt.Errorf("%q is not a Region of the lab", region)
	}
	body, _ := json.Marshal(map[string]string{"oldRegion": old})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.InvokeURL+"/internal/replay-window", bytes.NewReader(body))
	if err != nil {
		return payments.ReplayBounds{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return payments.ReplayBounds{}, fmt.Errorf("replay window in %s: %w", region, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var b payments.ReplayBounds
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("replay window in %s: %s: %s", region, resp.Status, bytes.TrimSpace(data))
		if resp.StatusCode < 500 {
			err = plan.Permanent(err) // a request the service will never take
		}
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("replay window in %s: answer %q: %w", region, data, err)
	}
	return b, nil
}
