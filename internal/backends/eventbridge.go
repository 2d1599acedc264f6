package backends

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// Event is one PutEvents entry as a bus received it.
type Event struct {
	EventBusName string    `json:"EventBusName"`
	Source       string    `json:"Source"`
	DetailType   string    `json:"DetailType"`
	Detail       string    `json:"Detail"`
	Bus          string    `json:"bus,omitempty"` // the Region whose bus received it
	Forwarded    bool      `json:"forwarded,omitempty"`
	At           time.Time `json:"at"`
}

// EventBus answers PutEvents like EventBridge (JSON 1.1 protocol, target
// AWSEvents.PutEvents) and records what it receives: in Log (one JSON
// line per event) when set, else in memory (Entries). In the lab each
// Region has one, and Other is the other Region's: events that originated
// in Region (detail.originRegion) are forwarded there, like the stack's
// cross-Region rule, and a forwarded event is never sent back.
//
// Faults a test may set: FailNext fails every entry of the next n calls
// (PutEvents' partial failure: HTTP 200, FailedEntryCount and a per-entry
// ErrorCode, as "Handling failures with PutEvents" in the EventBridge User
// Guide describes); Throttle answers the next n calls HTTP 400
// ThrottlingException; until FailUntil every call gets HTTP 500
// InternalException (an outage; both errors are PutEvents' documented
// common errors). SetDown fails every entry (the bus's Region is down).
type EventBus struct {
	Region string
	Other  *EventBus
	Log    string
	URL    string // set by NewEventBridge

	FailNext  int
	Throttle  int
	FailUntil time.Time
	// OnEvent, if set, runs before the event is acknowledged.
	OnEvent func(Event)

	mu       sync.Mutex
	entries  []Event
	calls    int
	received int
	down     bool
}

// Client returns an SDK client of the bus.
func (b *EventBus) Client() *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(b.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
}

// SetDown makes the bus fail every entry (its Region is down) or recover.
func (b *EventBus) SetDown(down bool) {
	b.mu.Lock()
	b.down = down
	b.mu.Unlock()
}

// CallCount is how many requests the bus received.
func (b *EventBus) CallCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// Received counts the events recorded so far.
func (b *EventBus) Received() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.received
}

// Entries returns the events recorded in memory so far.
func (b *EventBus) Entries() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Event(nil), b.entries...)
}

type putEventsResult struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

func (b *EventBus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "this stand-in serves only PutEvents")
		return
	}
	var in struct{ Entries []Event }
	err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in)
	b.mu.Lock()
	b.calls++
	fail, failEntries := b.failure()
	b.mu.Unlock()
	switch {
	case fail != nil:
		fail(w)
		return
	// PutEvents API Reference: Entries holds 1 to 10 items.
	case err != nil || len(in.Entries) == 0 || len(in.Entries) > 10:
		awsError(w, http.StatusBadRequest, "ValidationException", "want 1 to 10 entries")
		return
	}
	out := struct {
		FailedEntryCount int
		Entries          []putEventsResult
	}{}
	for _, e := range in.Entries {
		e.Bus, e.Forwarded, e.At = "", false, time.Time{}
		err := errEntryFailed
		if !failEntries {
			err = b.put(e, false)
		}
		if err != nil {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, putEventsResult{ErrorCode: "InternalFailure", ErrorMessage: err.Error()})
			continue
		}
		out.Entries = append(out.Entries, putEventsResult{EventId: randomID()})
	}
	_ = json.NewEncoder(w).Encode(out)
}

var errEntryFailed = errors.New("try again")

// failure is the fault in force for this call: an error answer for the
// whole call, or whether every entry fails. b.mu is held.
func (b *EventBus) failure() (answer func(http.ResponseWriter), failEntries bool) {
	switch {
	case time.Now().Before(b.FailUntil):
		return func(w http.ResponseWriter) {
			awsError(w, http.StatusInternalServerError, "InternalException", "outage")
		}, false
	case b.Throttle > 0:
		b.Throttle--
		return func(w http.ResponseWriter) {
			awsError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		}, false
	case b.FailNext > 0:
		b.FailNext--
		return nil, true
	}
	return nil, false
}

// put records e and, if it originated in this Region, forwards it.
func (b *EventBus) put(e Event, forwarded bool) error {
	b.mu.Lock()
	if b.down {
		b.mu.Unlock()
		return fmt.Errorf("the bus of %s is down", b.Region)
	}
	e.Bus, e.Forwarded, e.At = b.Region, forwarded, time.Now().UTC()
	if b.OnEvent != nil {
		b.OnEvent(e)
	}
	var err error
	if b.Log != "" {
		err = labdir.AppendJSONLine(b.Log, e)
	} else {
		b.entries = append(b.entries, e)
	}
	if err == nil {
		b.received++
	}
	b.mu.Unlock()
	if err != nil || b.Other == nil || b.Region == "" || OriginRegion(e.Detail) != b.Region {
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

// awsError writes a JSON 1.1 protocol error ("__type" names it).
func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}
