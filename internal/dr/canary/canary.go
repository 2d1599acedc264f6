// Package canary writes and reads drill payments through the real payment
// API: writes go to the failover name (wherever DNS sends them), reads go
// to one Region's own name.
package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTP implements dr.Canary.
type HTTP struct {
	// WriteURL is https://api.payment-<env>.<domain>; RegionURL maps a
	// Region to https://api-<region>.payment-<env>.<domain>.
	WriteURL  string
	RegionURL func(region string) string
	APIKey    string
	Client    *http.Client
}

func (c *HTTP) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Write posts a 1-unit canary payment; the key doubles as references, so
// drill payments are easy to find and exclude from reporting. It returns
// the payment id and the Region that recorded it.
func (c *HTTP) Write(ctx context.Context, key string) (string, string, error) {
	body, _ := json.Marshal(map[string]any{"amount": 1, "currency": "USD", "merchantRef": "dr-canary", "customerRef": "dr-canary", "sessionId": key})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.WriteURL+"/payments", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", c.APIKey)
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.client().Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("POST /payments: %d %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	var p struct {
		ID     string `json:"id"`
		Region string `json:"region"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.ID == "" {
		return "", "", fmt.Errorf("POST /payments: %d without a payment id", resp.StatusCode)
	}
	return p.ID, p.Region, nil
}

// Read reports whether region's database has the payment.
func (c *HTTP) Read(ctx context.Context, region, id string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.RegionURL(region)+"/payments/"+id, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("X-Api-Key", c.APIKey)
	resp, err := c.client().Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("GET /payments/%s in %s: %d", id, region, resp.StatusCode)
	}
}
