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

// Ack is one acknowledged payment: the client got 201 (created) or 200
// (a replay of its own earlier request) for Key.
type Ack struct {
	Key       string `json:"key"`
	PaymentID string `json:"paymentId"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Region    string `json:"region"` // the Region that answered
	Status    int    `json:"status"` // 201 or 200
	Attempts  int    `json:"attempts"`
	// Sent is when the acknowledged attempt was sent, At when its answer
	// arrived.
	Sent time.Time `json:"sent,omitzero"`
	At   time.Time `json:"at"`
}

// Validate checks one ack.
func (a Ack) Validate() error {
	switch {
	case a.Key == "" || len(a.Key) > 255:
		return errors.New("key must be 1 to 255 characters")
	case len(a.PaymentID) != 32:
		return fmt.Errorf("paymentId %q is not a 32-character payment id", a.PaymentID)
	case a.Amount <= 0:
		return fmt.Errorf("amount %d is not positive", a.Amount)
	case len(a.Currency) != 3:
		return fmt.Errorf("currency %q is not a 3-letter code", a.Currency)
	case a.Status != 200 && a.Status != 201:
		return fmt.Errorf("status %d is not an acknowledgement (200 or 201)", a.Status)
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
