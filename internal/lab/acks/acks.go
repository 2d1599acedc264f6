// Package acks is the file `drlab load` writes and `drlab verify` reads:
// one JSON line per acknowledged payment, and the lost-payments list an
// unplanned failover's reconcile produces.
package acks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Ack is one answer to a payment: an acknowledgement (the client got 201,
// created, or 200, a replay of its own earlier request) for Key, or, from
// a client that never retries (drlab load --no-retry), its one answer
// whatever it was: a status with the service's error code, or no answer
// at all (Status 0).
type Ack struct {
	Key       string `json:"key"`
	PaymentID string `json:"paymentId"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Region    string `json:"region"` // the Region that answered
	Status    int    `json:"status"` // 201 or 200; any other for an answer that is not one
	// Code is the service's error code of an answer that is not an
	// acknowledgement ("" with no answer or no code in it).
	Code     string `json:"code,omitempty"`
	Attempts int    `json:"attempts"`
	// Sent is when the acknowledged attempt was sent, At when its answer
	// arrived.
	Sent time.Time `json:"sent,omitzero"`
	At   time.Time `json:"at"`
}

// Acknowledged reports whether the answer acknowledged the payment.
func (a Ack) Acknowledged() bool { return a.Status == 200 || a.Status == 201 }

// CertainFailure reports whether the answer told the client its payment
// was not applied: a 4xx, or a 5xx with one of the service's codes that
// promise it (backend_unavailable, region_read_only, region_not_writer,
// clock_skew, internal). outcome_unknown, a 5xx without the service's code (a
// gateway's) and no answer promise nothing.
func (a Ack) CertainFailure() bool {
	switch {
	case a.Status >= 400 && a.Status < 500:
		return true
	case a.Status >= 500:
		return CertainFailureCodes[a.Code]
	}
	return false
}

// CertainFailureCodes are the service's 5xx codes that say "not applied"
// (docs/journal.md, the answers table).
var CertainFailureCodes = map[string]bool{"backend_unavailable": true, "region_read_only": true, "region_not_writer": true, "clock_skew": true, "internal": true}

// Validate checks one answer.
func (a Ack) Validate() error {
	switch {
	case a.Key == "" || len(a.Key) > 255:
		return errors.New("key must be 1 to 255 characters")
	case a.Acknowledged() && len(a.PaymentID) != 32:
		return fmt.Errorf("paymentId %q is not a 32-character payment id", a.PaymentID)
	case !a.Acknowledged() && a.PaymentID != "":
		return fmt.Errorf("status %d with paymentId %q: only an acknowledgement (200 or 201) names a payment", a.Status, a.PaymentID)
	case a.Amount <= 0:
		return fmt.Errorf("amount %d is not positive", a.Amount)
	case len(a.Currency) != 3:
		return fmt.Errorf("currency %q is not a 3-letter code", a.Currency)
	case a.Status != 0 && (a.Status < 200 || a.Status > 599):
		return fmt.Errorf("status %d is not an HTTP status (or 0 for no answer)", a.Status)
	case len(a.Code) > 64:
		return errors.New("code is longer than 64 characters")
	case a.At.IsZero():
		return errors.New("at is missing")
	}
	return nil
}

// maxLine bounds one line: an ack is a few hundred bytes.
const maxLine = 64 << 10

// ParseFile is Parse of the ack file at path; errors name the file.
func ParseFile(path string) ([]Ack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}

// Parse reads an ack file; every problem names its line. A last line
// without its newline (a load killed mid-write) is an error too: a
// truncated ack must not pass as a valid one.
func Parse(r io.Reader) ([]Ack, error) {
	var out []Ack
	err := lines(r, func(n int, line []byte) error {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var a Ack
		if err := dec.Decode(&a); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		if dec.More() {
			return fmt.Errorf("line %d: data after the JSON object", n)
		}
		if err := a.Validate(); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

func lines(r io.Reader, f func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, maxLine)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("line %d: longer than %d bytes", n, maxLine)
		}
		if errors.Is(err, io.EOF) {
			if len(bytes.TrimSpace(line)) != 0 {
				return fmt.Errorf("line %d: no newline at the end (truncated write?)", n)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if err := f(n, t); err != nil {
				return err
			}
		}
	}
}

// ParseLost reads the list of payments an unplanned failover lost, as
// keys: a reconcile report (JSON object with "items", each with an
// "idempotencyKey"), JSON lines with "key" or "idempotencyKey", or plain
// text with one key per line.
func ParseLost(data []byte) (map[string]bool, error) {
	keys := map[string]bool{}
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '{' {
		var rep struct {
			Items *[]struct {
				Key string `json:"idempotencyKey"`
			} `json:"items"`
		}
		if err := json.Unmarshal(t, &rep); err == nil && rep.Items != nil {
			for i, it := range *rep.Items {
				if err := checkKey(it.Key); err != nil {
					return nil, fmt.Errorf("items[%d]: %v", i, err)
				}
				keys[it.Key] = true
			}
			return keys, nil
		}
	}
	err := lines(bytes.NewReader(append(t, '\n')), func(n int, line []byte) error {
		key := string(line)
		if line[0] == '{' {
			var v struct {
				Key  string `json:"key"`
				IKey string `json:"idempotencyKey"`
			}
			if err := json.Unmarshal(line, &v); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			key = v.Key
			if key == "" {
				key = v.IKey
			}
		}
		if err := checkKey(key); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		keys[key] = true
		return nil
	})
	return keys, err
}

func checkKey(k string) error {
	if k == "" || len(k) > 255 || strings.ContainsFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return fmt.Errorf("key %q is not 1 to 255 printable ASCII characters", k)
	}
	return nil
}
