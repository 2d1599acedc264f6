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
	"time"
)

// Status of a payment.
const (
	StatusProcessed = "processed"
	StatusFailed    = "failed"
)

// Event detail types published on the Region's bus.
const (
	EventSource    = "custom.payment"
	EventProcessed = "Payment Processed"
	EventFailed    = "Payment Failed"
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
	Account   string
	Direction string // "debit" or "credit"
	Amount    int64
	Currency  string
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

// Store records payments and their ledger entries atomically.
type Store interface {
	// Create inserts p and its ledger entries in one transaction, unless a
	// payment with the same idempotency key exists: then it returns that
	// one and created=false. requestHash identifies the request body.
	Create(ctx context.Context, p Payment, requestHash string) (stored Payment, storedHash string, created bool, err error)
	Get(ctx context.Context, id string) (Payment, error)
	// Writable reports whether the database accepts writes here.
	Writable(ctx context.Context) (bool, error)
}

// Sessions writes the payment's session item to the session table.
type Sessions interface {
	Put(ctx context.Context, p Payment) error
	Ping(ctx context.Context) error
}

// Events publishes payment events to the Region's bus.
type Events interface {
	Publish(ctx context.Context, e Event) error
}

// Errors the HTTP layer maps to status codes.
var (
	ErrNotFound = errors.New("payment not found")
	// ErrReadOnly: the database here does not accept writes (a secondary
	// before promotion). Retryable; nothing was written.
	ErrReadOnly = errors.New("database is read-only in this Region")
	// ErrUnavailable: a backend could not be reached. Retryable.
	ErrUnavailable = errors.New("backend unavailable")
)

// ValidationError is a client error with a machine-readable code.
type ValidationError struct {
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return e.Code + ": " + e.Message }

// ConflictError: the idempotency key was used with a different request.
type ConflictError struct{ ExistingID string }

func (e *ConflictError) Error() string {
	return "idempotency key already used for a different request (payment " + e.ExistingID + ")"
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
	Events   Events
	Region   string
	Limits   Limits
	Now      func() time.Time
	// OnAfterCommitError reports a session or event write that failed
	// after the payment committed (the payment stands; the caller logs).
	OnAfterCommitError func(p Payment, what string, err error)
}

// Outcome says whether Create made a new payment or replayed one.
type Outcome int

// Outcomes of Create.
const (
	Created Outcome = iota
	Replayed
)

// Create records a payment exactly once per idempotency key. The payment
// row and its ledger entries commit together; only then are the session
// item and the event written, concurrently, so a write that reaches a
// read-only database leaves nothing anywhere.
func (s *Service) Create(ctx context.Context, req Request) (Payment, Outcome, error) {
	if err := Validate(req); err != nil {
		return Payment{}, 0, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
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
	hash := RequestHash(req)
	stored, storedHash, created, err := s.Store.Create(ctx, p, hash)
	if err != nil {
		return Payment{}, 0, err
	}
	if !created {
		if storedHash != hash {
			return Payment{}, 0, &ConflictError{ExistingID: stored.ID}
		}
		return stored, Replayed, nil
	}
	s.afterCommit(ctx, stored)
	return stored, Created, nil
}

// afterCommit writes the session item and publishes the event in parallel.
// Both adapters retry with bounded backoff; a failure that survives the
// retries is reported, and the committed payment stands.
func (s *Service) afterCommit(ctx context.Context, p Payment) {
	detail := EventProcessed
	if p.Status == StatusFailed {
		detail = EventFailed
	}
	sessionErr := make(chan error, 1)
	go func() { sessionErr <- s.Sessions.Put(ctx, p) }()
	if err := s.Events.Publish(ctx, Event{DetailType: detail, Payment: p}); err != nil && s.OnAfterCommitError != nil {
		s.OnAfterCommitError(p, "event", err)
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

// Health is what /health reports. The endpoint is public (Route 53 calls
// it without credentials), so the body carries short reason codes only;
// the underlying errors are in DBErr and TableErr for the logs.
type Health struct {
	Region         string `json:"region"`
	DBWritable     bool   `json:"dbWritable"`
	TableReachable bool   `json:"tableReachable"`
	Status         string `json:"status"`               // "ok" when this Region can take payments, else "unavailable"
	DBError        string `json:"dbError,omitempty"`    // "read_only" or "unreachable"
	TableError     string `json:"tableError,omitempty"` // "unreachable"
	DBErr          error  `json:"-"`
	TableErr       error  `json:"-"`
}

// Health checks the database and the session table concurrently.
func (s *Service) Health(ctx context.Context) Health {
	h := Health{Region: s.Region, Status: "unavailable"}
	tableErr := make(chan error, 1)
	go func() { tableErr <- s.Sessions.Ping(ctx) }()
	w, err := s.Store.Writable(ctx)
	h.DBWritable = err == nil && w
	switch {
	case err != nil:
		h.DBError, h.DBErr = "unreachable", err
	case !w:
		h.DBError = "read_only"
	}
	if err := <-tableErr; err != nil {
		h.TableError, h.TableErr = "unreachable", err
	} else {
		h.TableReachable = true
	}
	if h.DBWritable && h.TableReachable {
		h.Status = "ok"
	}
	return h
}

// Validate checks a request and returns a *ValidationError naming the problem.
func Validate(r Request) error {
	bad := func(code, format string, args ...any) error {
		return &ValidationError{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case r.IdempotencyKey == "":
		return bad("missing_idempotency_key", "the Idempotency-Key header is required")
	case len(r.IdempotencyKey) > 255 || !printableASCII(r.IdempotencyKey):
		return bad("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters")
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

func validID(id string) bool {
	if len(id) != 32 {
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
