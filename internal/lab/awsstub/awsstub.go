// Package awsstub holds the lab's stand-ins for the two AWS APIs the
// payment service calls besides DynamoDB (dynalite): Secrets Manager
// (GetSecretValue, for the API key) and EventBridge (PutEvents). Each
// Region has its own bus, which records what it receives in
// DIR/events/<region>.jsonl and forwards events that originated in its
// Region to the other Region's bus, like the stack's rule on
// detail.originRegion (so a forwarded event is never sent back).
package awsstub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// Secrets serves GetSecretValue for fixed values.
type Secrets struct{ Values map[string]string }

func (s *Secrets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		awsError(w, "UnknownOperationException", "the lab serves only GetSecretValue")
		return
	}
	var in struct{ SecretId string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		awsError(w, "InvalidRequestException", "bad JSON body")
		return
	}
	v, ok := s.Values[in.SecretId]
	if !ok {
		awsError(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"Name": in.SecretId, "SecretString": v,
		"ARN": "arn:aws:secretsmanager:lab:000000000000:secret:" + in.SecretId})
}

func awsError(w http.ResponseWriter, typ, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// Entry is one PutEvents entry.
type Entry struct {
	EventBusName string `json:"EventBusName"`
	Source       string `json:"Source"`
	DetailType   string `json:"DetailType"`
	Detail       string `json:"Detail"`
}

// Record is what a bus keeps of an event.
type Record struct {
	Entry
	Bus       string    `json:"bus"` // the Region whose bus received it
	Forwarded bool      `json:"forwarded"`
	At        time.Time `json:"at"`
}

// Bus is one Region's event bus.
type Bus struct {
	Region string
	Other  *Bus // where the rule forwards events originating here
	Log    string

	mu       sync.Mutex
	received int
	down     bool
}

// SetDown makes the bus refuse events (its Region is down).
func (b *Bus) SetDown(down bool) {
	b.mu.Lock()
	b.down = down
	b.mu.Unlock()
}

// Received counts the events recorded so far.
func (b *Bus) Received() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.received
}

func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		awsError(w, "UnknownOperationException", "the lab serves only PutEvents")
		return
	}
	var in struct{ Entries []Entry }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || len(in.Entries) == 0 || len(in.Entries) > 10 {
		awsError(w, "ValidationException", "want 1 to 10 entries")
		return
	}
	type result struct {
		EventId   string `json:",omitempty"`
		ErrorCode string `json:",omitempty"`
	}
	out := struct {
		FailedEntryCount int
		Entries          []result
	}{}
	for i, e := range in.Entries {
		if err := b.put(e, false); err != nil {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, result{ErrorCode: "InternalFailure"})
			continue
		}
		out.Entries = append(out.Entries, result{EventId: fmt.Sprintf("%s-%d-%d", b.Region, time.Now().UnixNano(), i)})
	}
	_ = json.NewEncoder(w).Encode(out)
}

// put records e and, if it originated in this Region, forwards it.
func (b *Bus) put(e Entry, forwarded bool) error {
	b.mu.Lock()
	if b.down {
		b.mu.Unlock()
		return fmt.Errorf("bus %s is down", b.Region)
	}
	err := labdir.AppendJSONLine(b.Log, Record{Entry: e, Bus: b.Region, Forwarded: forwarded, At: time.Now().UTC()})
	if err == nil {
		b.received++
	}
	b.mu.Unlock()
	if err != nil || b.Other == nil || OriginRegion(e.Detail) != b.Region {
		return err
	}
	// The cross-Region rule delivers asynchronously; a lost delivery to a
	// Region that is down is what EventBridge would retry, and is logged.
	go func() { _ = b.Other.put(e, true) }()
	return nil
}

// OriginRegion is detail.originRegion ("" when absent).
func OriginRegion(detail string) string {
	var d struct {
		OriginRegion string `json:"originRegion"`
	}
	_ = json.Unmarshal([]byte(detail), &d)
	return d.OriginRegion
}
