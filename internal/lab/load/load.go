// Package load is `drlab load`: a client that behaves like a careful real
// one (Jepsen-style). Each payment gets a fresh idempotency key and is
// retried with the same key after a 503, a 5xx, a dropped connection or a
// timeout, until it is acknowledged or the run's grace period ends; with
// NoRetry each key is sent once and its one answer kept. Every
// acknowledgement (and every one-shot answer) is appended to the ack file
// as one JSON line as soon as it arrives, so a run killed half-way leaves
// only complete lines.
package load

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
)

// Options of a run.
type Options struct {
	URL string // the failover URL, or Region's own API
	// Region is set when URL is that Region's own API (a client inside
	// it): every answer comes from it.
	Region   string
	APIKey   string
	Rate     int           // payments started per second
	Duration time.Duration // how long new payments are started
	// Grace bounds the retries of a payment after Duration (default 60 s).
	Grace   time.Duration
	Out     io.Writer // ack lines
	Timeout time.Duration
	// Stop, when closed, ends the run early: no new payment starts, the
	// ones in flight are still retried until acknowledged or Grace.
	Stop <-chan struct{}
	// NoRetry sends each key once and records its one answer, whatever it
	// is: only a client that never retries sees a "not applied" that was
	// not true (drlab verify's phantoms).
	NoRetry bool
}

// Validate checks the options with messages naming the flag.
func (o Options) Validate() error {
	switch {
	case o.Rate < 1 || o.Rate > 5000:
		return fmt.Errorf("--rate %d: want 1 to 5000 payments per second", o.Rate)
	case o.Duration <= 0 || o.Duration > 24*time.Hour:
		return fmt.Errorf("--duration %s: want more than 0 and at most 24h", o.Duration)
	case o.URL == "" || o.APIKey == "":
		return errors.New("the lab's failoverURL and apiKey are missing from lab.json")
	}
	return nil
}

// Result counts what happened.
type Result struct {
	Started, Acked, Retries, Rejected, GaveUp int64
	// Failed: one-shot payments (NoRetry) answered with anything but an
	// acknowledgement, recorded with their answer.
	Failed int64
}

var currencies = []string{"USD", "EUR", "GBP", "JPY"}

// Run sends payments until Duration ends and every payment is acked or
// given up.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Grace == 0 {
		o.Grace = 60 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	var res Result
	w := &ackWriter{w: o.Out}
	client := &http.Client{Timeout: o.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	run := newID(4)
	giveUp := new(atomic.Int64) // unix ns after which retries stop
	giveUp.Store(time.Now().Add(o.Duration + o.Grace).UnixNano())
	if o.Stop != nil {
		go func() {
			select {
			case <-o.Stop:
				giveUp.Store(time.Now().Add(o.Grace).UnixNano())
			case <-ctx.Done():
			}
		}()
	}
	tick := time.NewTicker(time.Second / time.Duration(o.Rate))
	defer tick.Stop()
	end := time.After(o.Duration)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 512) // in-flight payments
loop:
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-o.Stop:
			break loop
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // the service is not keeping up: this tick is skipped, not queued
		}
		atomic.AddInt64(&res.Started, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := payment{key: fmt.Sprintf("load-%s-%07d", run, seq), amount: randInt(1, 100000), currency: currencies[seq%len(currencies)]}
			pay(ctx, client, o, p, giveUp, w, &res)
		}()
	}
	wg.Wait()
	return res, w.err
}

type payment struct {
	key      string
	amount   int64
	currency string
}

// pay sends one payment until acknowledged, rejected or out of time.
func pay(ctx context.Context, client *http.Client, o Options, p payment, giveUp *atomic.Int64, w *ackWriter, res *Result) {
	body, _ := json.Marshal(map[string]any{"amount": p.amount, "currency": p.currency, "merchantRef": "lab-merchant",
		"customerRef": "lab-customer-" + p.currency, "sessionId": p.key})
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		sent := time.Now().UTC()
		status, region, id, code, err := post(ctx, client, o, p.key, body)
		answer := acks.Ack{Key: p.key, PaymentID: id, Amount: p.amount, Currency: p.currency, Region: region,
			Status: status, Code: code, Attempts: attempt, Sent: sent, At: time.Now().UTC()}
		switch {
		case status == http.StatusCreated || status == http.StatusOK:
			atomic.AddInt64(&res.Acked, 1)
			w.write(answer)
			return
		case o.NoRetry:
			if err != nil {
				answer.Status, answer.Code = 0, ""
			}
			atomic.AddInt64(&res.Failed, 1)
			w.write(answer)
			return
		case err == nil && status < 500:
			atomic.AddInt64(&res.Rejected, 1) // a 4xx is an answer, not a reason to retry
			fmt.Fprintf(os.Stderr, "drlab load: %s rejected with %d\n", p.key, status)
			return
		}
		if time.Now().UnixNano() > giveUp.Load() || ctx.Err() != nil {
			atomic.AddInt64(&res.GaveUp, 1)
			return
		}
		atomic.AddInt64(&res.Retries, 1)
		time.Sleep(backoff)
		backoff = min(backoff*2, time.Second)
	}
}

// post sends one attempt and returns its status, the Region that
// answered, the payment id of an acknowledgement and the service's error
// code of any other answer.
func post(ctx context.Context, client *http.Client, o Options, key string, body []byte) (status int, region, id, code string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL+"/payments", bytes.NewReader(body))
	if err != nil {
		return 0, "", "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", o.APIKey)
	req.Header.Set("Idempotency-Key", key)
	if o.NoRetry {
		// net/http resends a request carrying an Idempotency-Key whose
		// reused connection failed (http.Transport: such a request is
		// idempotent); without GetBody it cannot, so one key is one send.
		req.GetBody = nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, "", "", "", err // the answer was lost: retry, the key makes it safe
	}
	var p struct {
		ID     string `json:"id"`
		Region string `json:"region"`
		Error  struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	acked := resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK
	if err := json.Unmarshal(data, &p); acked && (err != nil || len(p.ID) != 32) {
		return 0, "", "", "", fmt.Errorf("acknowledgement without a payment id: %s", data)
	}
	if len(p.Error.Code) > 64 {
		p.Error.Code = p.Error.Code[:64]
	}
	// The Region that answered: the failover name's answer, the Region
	// sent to, or failing both the payment's own Region.
	region = resp.Header.Get("X-Lab-Answer")
	if region == "" {
		region = o.Region
	}
	if region == "" {
		region = p.Region
	}
	if !acked {
		return resp.StatusCode, region, "", p.Error.Code, nil
	}
	return resp.StatusCode, region, p.ID, "", nil
}

// ackWriter appends one line per ack with a single write.
type ackWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (a *ackWriter) write(ack acks.Ack) {
	b, _ := json.Marshal(ack)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.Write(append(b, '\n')); err != nil && a.err == nil {
		a.err = err
	}
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randInt(lo, hi int64) int64 {
	n, _ := rand.Int(rand.Reader, big.NewInt(hi-lo+1))
	return lo + n.Int64()
}
