package labcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ReplayedKey is one payment the replay completed in the Region.
type ReplayedKey struct {
	Key       []byte `json:"key"`
	PaymentID string `json:"paymentId"`
}

// JournalReplay is the service's answer to a replay of the journal.
type JournalReplay struct {
	Replayed []ReplayedKey `json:"replayed"`
	Present  int           `json:"present"`
	Released int           `json:"released"`
}

// replayTimeout bounds one replay: the lab's windows hold a few thousand
// claims at most.
const replayTimeout = 2 * time.Minute

// ReplayJournal asks region's payment service to complete every payment
// claimed in the journal in [from, to] that its database lacks: POST
// /internal/replay-journal on the service's loopback address, the lab's
// form of the replayJournal invocation of the payment function.
func (c *Cloud) ReplayJournal(ctx context.Context, region string, from, to time.Time) (JournalReplay, error) {
	var res JournalReplay
	r, ok := c.Lab.Regions[region]
	if !ok {
		return res, fmt.Errorf("%q is not a Region of the lab", region)
	}
	body, _ := json.Marshal(map[string]string{"from": from.UTC().Format(time.RFC3339Nano), "to": to.UTC().Format(time.RFC3339Nano)})
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.APIURL+"/internal/replay-journal", bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return res, fmt.Errorf("replaying the journal in %s: %w", region, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return res, fmt.Errorf("replaying the journal in %s: reading the answer: %w", region, err)
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
		return res, fmt.Errorf("replaying the journal in %s: %s: %s", region, resp.Status, e.Error)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("replaying the journal in %s: answer %q: %w", region, data, err)
	}
	return res, nil
}
