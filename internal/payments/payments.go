// Package payments is the payment domain: validation, idempotent creation
// and the rules that tie the payment record, its ledger entries, the
// session and the event together. It knows nothing about AWS: the store,
// the session table and the event bus are small interfaces, implemented by
// adapters (mysqlstore, dynamo, eventbus) and by fakes in tests.
package payments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// Status of a payment.
const (
	StatusProcessed = "processed"
	StatusFailed    = "failed"
)

// Event detail types published on the Region's bus.
const (
	EventSource    = naming.PaymentEventSource
	EventProcessed = naming.PaymentProcessedEvent
	EventFailed    = naming.PaymentFailedEvent
)

// Request is a validated request to create a payment.
type Request struct {
	IdempotencyKey string
	Amount         int64 // minor units of Currency
	Currency       string
	MerchantRef    string
	CustomerRef    string
	SessionID      string // optional
}

// Payment is a recorded payment. Money is an integer count of minor units.
type Payment struct {
	ID             string    `json:"id"`
	IdempotencyKey string    `json:"idempotencyKey"`
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	MerchantRef    string    `json:"merchantRef"`
	CustomerRef    string    `json:"customerRef"`
	SessionID      string    `json:"sessionId"`
	Status         string    `json:"status"`
	FailureReason  string    `json:"failureReason,omitempty"`
	Region         string    `json:"region"`
	CreatedAt      time.Time `json:"createdAt"`
}

// LedgerEntry is one side of the double entry written with a processed payment.
type LedgerEntry struct {
	Account   string `json:"account"`
	Direction string `json:"direction"` // "debit" or "credit"
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
}

// Ledger returns the two entries of a processed payment: the customer is
// debited and the merchant credited the same amount. A failed payment
// moves no money and has none.
func (p Payment) Ledger() []LedgerEntry {
	if p.Status != StatusProcessed {
		return nil
	}
	return []LedgerEntry{
		{Account: "customer:" + p.CustomerRef, Direction: "debit", Amount: p.Amount, Currency: p.Currency},
		{Account: "merchant:" + p.MerchantRef, Direction: "credit", Amount: p.Amount, Currency: p.Currency},
	}
}

// Event is what is published after a payment commits.
type Event struct {
	DetailType string
	Payment    Payment
}

// EventFor is the event announcing a committed payment.
func EventFor(p Payment) Event {
	if p.Status == StatusFailed {
		return Event{DetailType: EventFailed, Payment: p}
	}
	return Event{DetailType: EventProcessed, Payment: p}
}

// Stored is what Store.Create found or made for an idempotency key.
type Stored struct {
	Payment Payment
	Hash    string // request hash stored with the payment
	New     bool   // this call inserted the payment
	// EventPending: the payment's outbox row is not marked sent yet.
	EventPending bool
}

// Store records payments, their ledger entries and their outbox rows.
type Store interface {
	// Create inserts p, its ledger entries and its outbox row (due at
	// p.CreatedAt + InlineGrace) in one transaction, unless a payment with
	// the same idempotency key exists: then it returns that one.
	// requestHash identifies the request body. An error wrapping
	// ErrOutcomeUnknown means the transaction may have committed; every
	// other error means it did not.
	Create(ctx context.Context, p Payment, requestHash string) (Stored, error)
	Get(ctx context.Context, id string) (Payment, error)
	// Present reports which of ids (at most MaxPresentBatch) the database
	// holds, in one read.
	Present(ctx context.Context, ids []string) (map[string]bool, error)
	// Writable reports whether the database accepts writes here.
	Writable(ctx context.Context) (bool, error)
	// MarkWriter records at (the service's clock) as a moment region's
	// database took writes: one row per Region, moved only forward.
	MarkWriter(ctx context.Context, region string, at time.Time) error
	// WriterMark is the newest mark of region this database holds.
	WriterMark(ctx context.Context, region string) (at time.Time, found bool, err error)
	// Clock is the database's clock now, in UTC.
	Clock(ctx context.Context) (time.Time, error)
	OutboxStore
}

// MaxPresentBatch is the most ids one Present call takes.
const MaxPresentBatch = 500

// Sessions writes the payment's session item to the session table.
type Sessions interface {
	Put(ctx context.Context, p Payment) error
	Ping(ctx context.Context) error
}

// MaxEventBatch is the most events one Publish call takes (EventBridge's
// PutEvents limit).
const MaxEventBatch = 10

// Events publishes payment events to the Region's bus.
type Events interface {
	// Publish sends up to MaxEventBatch events and returns one error per
	// event (nil when accepted).
	Publish(ctx context.Context, events []Event) []error
}

// Errors the HTTP layer maps to status codes.
var (
	ErrNotFound = errors.New("payment not found")
	// ErrReadOnly: the database here does not accept writes (a secondary
	// before promotion). Retryable; nothing was written.
	ErrReadOnly = errors.New("database is read-only in this Region")
	// ErrUnavailable: a backend could not be reached and the request was
	// not applied. Retryable.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrOutcomeUnknown: the transaction was sent but whether it committed
	// could not be established (the database stopped answering). A retry
	// with the same idempotency key tells.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// ValidationError is a client error with a machine-readable code.
type ValidationError struct {
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return e.Code + ": " + e.Message }

// ConflictError: the idempotency key was used with a different request.
type ConflictError struct{ ExistingID string }

// Error names no payment: the key's owner knows its payment, and a message
// is no place to hand out another payment's id.
func (e *ConflictError) Error() string {
	return "idempotency key already used for a different request"
}

// Limits bound what a single payment may be.
type Limits struct {
	// MaxAmount is the largest amount, in minor units, processed; larger
	// payments are recorded as failed (declined), not rejected.
	MaxAmount int64
}

// DefaultLimits declines single payments above 1,000,000.00 in a
// two-decimal currency.
var DefaultLimits = Limits{MaxAmount: 100_000_000}

// Service creates and reads payments.
type Service struct {
	Store    Store
	Sessions Sessions
	Outbox   *Relay // publishes the payments' events from the outbox
	Region   string
	Limits   Limits
	Now      func() time.Time
	// OnAfterCommitError reports a session write that failed after the
	// payment committed (the payment stands; the caller logs).
	OnAfterCommitError func(p Payment, what string, err error)
	// Tables caches the session table's reachability for Health (made
	// from Sessions on first use when nil).
	Tables     *TableProbe
	tablesOnce sync.Once
	// Journal, when set, claims every key in a majority of Regions before
	// the payment commits; JournalRetention is how long claims are kept
	// (default DefaultJournalRetention).
	Journal          Journal
	JournalRetention time.Duration
	// ReplayPage is the most payments one ReplayJournal call completes
	// (default and most MaxReplayPage).
	ReplayPage int
	readOnly   readOnlyGate
	writer     writerGate
	majority   majoritySeen
	clock      clockGate
}

// Outcome says whether Create made a new payment or replayed one.
type Outcome int

// Outcomes of Create.
const (
	Created Outcome = iota
	Replayed
)

// Create records a payment exactly once per idempotency key. The payment
// row, its ledger entries and its outbox row commit together; only then
// are the session item and the event written, concurrently, so a write
// that reaches a read-only database leaves nothing anywhere. A replay
// completes what an earlier attempt may have left undone.
func (s *Service) Create(ctx context.Context, req Request) (Payment, Outcome, error) {
	if err := Validate(req); err != nil {
		return Payment{}, 0, err
	}
	p := s.newPayment(req)
	hash := RequestHash(req)
	if s.Journal != nil {
		return s.createClaimed(ctx, p, hash)
	}
	c, err := s.Store.Create(ctx, p, hash)
	if err != nil {
		return Payment{}, 0, err
	}
	if !c.New {
		if c.Hash != hash {
			return Payment{}, 0, &ConflictError{ExistingID: c.Payment.ID}
		}
		s.afterCommit(ctx, c.Payment, false, c.EventPending)
		return c.Payment, Replayed, nil
	}
	s.afterCommit(ctx, c.Payment, true, true)
	return c.Payment, Created, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) newPayment(req Request) Payment {
	now := s.now
	p := Payment{
		ID: NewID(), IdempotencyKey: req.IdempotencyKey, Amount: req.Amount, Currency: req.Currency,
		MerchantRef: req.MerchantRef, CustomerRef: req.CustomerRef, SessionID: req.SessionID,
		Status: StatusProcessed, Region: s.Region, CreatedAt: now().UTC().Truncate(time.Microsecond),
	}
	if p.SessionID == "" {
		p.SessionID = "payment:" + p.ID
	}
	limits := s.Limits
	if limits.MaxAmount == 0 {
		limits = DefaultLimits
	}
	if p.Amount > limits.MaxAmount {
		p.Status, p.FailureReason = StatusFailed, "amount_over_limit"
	}
	return p
}

// afterCommit writes the session item and delivers the event in parallel.
// A new payment's event is published at once; a replay publishes it only
// when it is still pending and no attempt holds it. The session put is
// idempotent, so a replay always repeats it. A failure is reported (the
// outbox retries the event), and the committed payment stands.
func (s *Service) afterCommit(ctx context.Context, p Payment, fresh, eventPending bool) {
	sessionErr := make(chan error, 1)
	go func() { sessionErr <- s.Sessions.Put(ctx, p) }()
	switch {
	case s.Outbox == nil:
	case fresh:
		s.Outbox.Deliver(ctx, p)
	case eventPending:
		s.Outbox.Redeliver(ctx, p)
	}
	if err := <-sessionErr; err != nil && s.OnAfterCommitError != nil {
		s.OnAfterCommitError(p, "session", err)
	}
}

// Get returns a payment by id.
func (s *Service) Get(ctx context.Context, id string) (Payment, error) {
	if !validID(id) {
		return Payment{}, &ValidationError{Code: "invalid_id", Message: "payment id must be 32 lower-case hex characters"}
	}
	return s.Store.Get(ctx, id)
}

// MaxIdempotencyKeyLen is the longest Idempotency-Key the API accepts, in
// bytes (printable ASCII).
const MaxIdempotencyKeyLen = 255

// Validate checks a request and returns a *ValidationError naming the problem.
func Validate(r Request) error {
	bad := func(code, format string, args ...any) error {
		return &ValidationError{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case r.IdempotencyKey == "":
		return bad("missing_idempotency_key", "the Idempotency-Key header is required")
	case len(r.IdempotencyKey) > MaxIdempotencyKeyLen || !printableASCII(r.IdempotencyKey):
		return bad("invalid_idempotency_key", "Idempotency-Key must be 1 to %d printable ASCII characters", MaxIdempotencyKeyLen)
	case r.Amount <= 0:
		return bad("invalid_amount", "amount must be a positive integer number of minor units, got %d", r.Amount)
	case r.Amount > 1e15:
		return bad("invalid_amount", "amount %d is larger than any payment this service accepts", r.Amount)
	}
	if _, ok := minorUnits[r.Currency]; !ok {
		return bad("invalid_currency", "currency %q is not an active ISO 4217 code", r.Currency)
	}
	if !validRef(r.MerchantRef, 64) {
		return bad("invalid_merchant_ref", "merchantRef must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
	}
	if !validRef(r.CustomerRef, 64) {
		return bad("invalid_customer_ref", "customerRef must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
	}
	if r.SessionID != "" && !validRef(r.SessionID, 128) {
		return bad("invalid_session_id", "sessionId must be at most 128 characters of A-Z a-z 0-9 . _ : -")
	}
	return nil
}

// RequestHash identifies the request body, so a key replayed with another
// body is detected. Fields are length-prefixed to keep them unambiguous.
func RequestHash(r Request) string {
	h := sha256.New()
	for _, f := range []string{strconv.FormatInt(r.Amount, 10), r.Currency, r.MerchantRef, r.CustomerRef, r.SessionID} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NewID returns a random 128-bit payment id as 32 hex characters.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// idLen is the length of a payment id (NewID).
const idLen = 32

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validRef(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
