// Package httpapi serves the payment API over net/http. The same handler
// runs behind API Gateway (through the Lambda adapter in lambda.go), in a
// local server and in tests.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 16 << 10

// HealthTimeout bounds GET /health: Route 53 counts an answer later than
// 2 s after connecting as a failure, so it answers well within one.
const HealthTimeout = 800 * time.Millisecond

// RetryAfterSeconds is sent with every 503.
const RetryAfterSeconds = 5

// Handler is the payment API.
type Handler struct {
	Service *payments.Service
	APIKey  string // required on every route but GET /health
	Log     *slog.Logger
	Timeout time.Duration // per request; default 25 s (API Gateway gives up at 29 s)
}

type ctxKey struct{}

// WithRequestID attaches the request id the logs carry.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

func requestID(r *http.Request) string {
	if id, ok := r.Context().Value(ctxKey{}).(string); ok && id != "" {
		return id
	}
	return r.Header.Get("X-Request-Id")
}

// ServeHTTP routes the three endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	log := h.logger().With("requestId", requestID(r), "method", r.Method, "path", r.URL.Path)
	defer func() {
		if v := recover(); v != nil {
			log.Error("panic", "panic", fmt.Sprint(v))
			writeError(rec, http.StatusInternalServerError, "internal", "internal error")
		}
		// One line per request: what happened is added by the route (annotate).
		log.Info("request", append(rec.attrs, "status", rec.status, "durationMs", float64(time.Since(start).Microseconds())/1000)...)
	}()
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 25 * time.Second
	}
	// A client that gives up does not cancel the work: a payment is
	// finished (committed, session, event) or certainly not applied, never
	// abandoned half-way; the reply then goes nowhere.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	r = r.WithContext(ctx)

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/health":
		if r.Method != http.MethodGet {
			methodNotAllowed(rec, http.MethodGet)
			return
		}
		h.health(rec, r)
	case path == "/payments":
		if r.Method != http.MethodPost {
			methodNotAllowed(rec, http.MethodPost)
			return
		}
		if h.authorized(rec, r) {
			h.create(rec, r, log)
		}
	case strings.HasPrefix(path, "/payments/") && strings.Count(path, "/") == 2:
		if r.Method != http.MethodGet {
			methodNotAllowed(rec, http.MethodGet)
			return
		}
		if h.authorized(rec, r) {
			h.get(rec, r, strings.TrimPrefix(path, "/payments/"))
		}
	default:
		writeError(rec, http.StatusNotFound, "not_found", "no such route")
	}
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	got := r.Header.Get("X-Api-Key")
	if h.APIKey == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.APIKey)) != 1 {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid x-api-key")
		return false
	}
	return true
}

type mediaTypeError struct{ got string }

func (e *mediaTypeError) Error() string { return "Content-Type must be application/json, got " + e.got }

func (h *Handler) create(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "unreadable_body", "could not read the request body")
		return
	}
	if len(body) > MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body exceeds %d bytes", MaxBodyBytes))
		return
	}
	req, err := ParseCreate(r.Header, body)
	if err != nil {
		h.writeDomainError(w, err, log)
		return
	}
	// The key is what a client quotes when it asks what became of a
	// payment, also of one answered outcome_unknown (no payment id).
	annotate(w, "idempotencyKey", req.IdempotencyKey)
	p, outcome, err := h.Service.Create(r.Context(), req)
	if err != nil {
		h.writeDomainError(w, err, log)
		return
	}
	status := http.StatusCreated
	if outcome == payments.Replayed {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if p.Status == payments.StatusFailed {
		status = http.StatusPaymentRequired
	}
	annotate(w, "paymentId", p.ID, "paymentStatus", p.Status, "replayed", outcome == payments.Replayed)
	writeJSON(w, status, p)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, id string) {
	p, err := h.Service.Get(r.Context(), id)
	if err != nil {
		h.writeDomainError(w, err, h.logger())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// health answers 200 only when this Region can take payments: Route 53
// routes the failover name by it.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	// Route 53 gives an HTTPS check a few seconds; a hung backend must
	// turn into a prompt 503, not a slow answer.
	ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
	defer cancel()
	st := h.Service.Health(ctx)
	status := http.StatusOK
	if st.TableErr != nil {
		annotate(w, "tableError", st.TableErr.Error())
	}
	if !st.Healthy() {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		// The details stay in the logs: the endpoint is public.
		annotate(w, "dbWritable", st.DBWritable, "tableReachable", st.TableReachable)
		if st.DBErr != nil {
			annotate(w, "dbError", st.DBErr.Error())
		}
		if st.JournalErr != nil {
			annotate(w, "journalError", st.JournalErr.Error())
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, st)
}

func (h *Handler) writeDomainError(w http.ResponseWriter, err error, log *slog.Logger) {
	var ve *payments.ValidationError
	var ce *payments.ConflictError
	var me *mediaTypeError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, ve.Code, ve.Message)
	case errors.As(err, &me):
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", me.Error())
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, "idempotency_key_reused", ce.Error())
	case errors.Is(err, payments.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no payment with that id")
	case errors.Is(err, payments.ErrReadOnly):
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "region_read_only", "this Region's database is read-only (standby); retry, the request was not applied")
	case errors.Is(err, payments.ErrNotWriter):
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "region_not_writer", "this Region is not the payment journal's writer (the writer moved to another Region); retry through the API's failover name, the request was not applied")
	case errors.Is(err, payments.ErrClockSkew):
		log.Error("clock skew", "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "clock_skew", "this Region's clock is too far from its database's to take payments; retry through the API's failover name, the request was not applied")
	case errors.Is(err, payments.ErrOutcomeUnknown):
		log.Error("outcome unknown", "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "outcome_unknown",
			"a backend (the database or the payment journal) stopped answering, or the writer moved to another Region, after the payment was sent: it may have been recorded; retry with the same Idempotency-Key to learn its outcome (never with a new key)")
	case errors.Is(err, payments.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		log.Warn("backend unavailable", "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "backend_unavailable", "a backend is unavailable and the request was not applied; retry with the same Idempotency-Key")
	default:
		log.Error("unexpected error", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "internal", "internal error; the request was not applied (rolled back); retry with the same Idempotency-Key")
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	attrs  []any // added to the request's log line
}

// annotate adds key-value pairs to the request's single log line.
func annotate(w http.ResponseWriter, kv ...any) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.attrs = append(rec.attrs, kv...)
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
