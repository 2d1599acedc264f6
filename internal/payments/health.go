package payments

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Health is what /health reports. The endpoint is public (Route 53 calls
// it without credentials), so the body carries short reason codes only;
// the underlying errors are in DBErr and TableErr for the logs.
type Health struct {
	Region         string `json:"region"`
	DBWritable     bool   `json:"dbWritable"`
	TableReachable bool   `json:"tableReachable"`
	// Status is "ok" (the database takes writes here and the table
	// answers), "degraded" (the database takes writes here, the session
	// table does not answer: payments still commit, sessions wait for a
	// replay) or "unavailable" (this Region cannot take payments).
	Status     string `json:"status"`
	DBError    string `json:"dbError,omitempty"`    // "read_only" or "unreachable"
	TableError string `json:"tableError,omitempty"` // "unreachable" or "unknown"
	// JournalError is "no_majority" when this Region cannot reach a
	// majority of the payment journal: it can claim no key, so it takes
	// no payment, and DNS must send clients elsewhere.
	JournalError string `json:"journalError,omitempty"`
	// WriterError is "not_writer" when the journal's writer record names
	// another Region (WriterRegion, at WriterEpoch): a move fenced this
	// Region, which must take no traffic even with a writable database.
	WriterError  string `json:"writerError,omitempty"`
	WriterRegion string `json:"writerRegion,omitempty"`
	WriterEpoch  int64  `json:"writerEpoch,omitempty"`
	// ClockError is "skewed" when this Region's clock is more than
	// MaxClockSkew from its database's (by ClockSkewMs, then): it refuses
	// payments.
	ClockError  string `json:"clockError,omitempty"`
	ClockSkewMs int64  `json:"clockSkewMs,omitempty"`
	DBErr       error  `json:"-"`
	TableErr    error  `json:"-"`
	JournalErr  error  `json:"-"`
}

// Healthy reports whether the Region should receive traffic. Only the
// database decides: exactly one Region has a writable database, so a
// DynamoDB outage there must not turn every Region unhealthy (Route 53
// would then answer with the primary anyway, and the "no writable Region"
// alarm would fire while payments still succeed).
//
// With a journal, a Region that cannot reach the journal's majority is
// unhealthy too: its payments would all fail, and a partitioned old
// writer must lose its traffic.
//
// A Region the journal's writer record does not name is unhealthy: after
// an unplanned failover the old Region may return with a writable
// database, and only the record says it is no longer the writer.
//
// A Region whose clock is too far from its database's refuses payments,
// so it is unhealthy too.
func (h Health) Healthy() bool {
	return h.DBWritable && h.JournalError == "" && h.WriterError == "" && h.ClockError == ""
}

// DBProbeTimeout bounds /health's database query: Route 53 counts an
// answer later than 2 s as a failure.
const DBProbeTimeout = 500 * time.Millisecond

// JournalProbeTimeout bounds /health's strongly consistent read of the
// journal, run alongside the database probe. A read answered by a
// majority takes one round trip to the nearest other Region (about 10 to
// 15 ms between us-east-1 and us-east-2).
const JournalProbeTimeout = 500 * time.Millisecond

// MajorityEvidenceMaxAge is how long a journal write or strongly
// consistent read that succeeded (it needed a majority of the journal's
// Regions) stands for /health's own read. A burst of claims, such as the
// retried payments reaching a new writer once DNS followed it, can delay
// a strongly consistent read past JournalProbeTimeout while the claims
// themselves succeed: the Region has its majority, and /health says so.
// Without a success that recent, /health reads.
const MajorityEvidenceMaxAge = time.Second

// majoritySeen remembers when a journal operation needing a majority
// last succeeded (Unix nanoseconds).
type majoritySeen struct{ at atomic.Int64 }

func (m *majoritySeen) saw(now time.Time) { m.at.Store(now.UnixNano()) }

func (m *majoritySeen) recent(now time.Time) bool {
	at := m.at.Load()
	if at == 0 {
		return false
	}
	age := now.Sub(time.Unix(0, at))
	return age >= 0 && age < MajorityEvidenceMaxAge
}

// Health asks the database whether it takes writes here (bounded by
// DBProbeTimeout) and reads the session table's cached reachability.
func (s *Service) Health(ctx context.Context) Health {
	h := Health{Region: s.Region, Status: "unavailable"}
	journalErr := make(chan error, 1)
	if s.Journal != nil {
		go func() {
			jctx, cancel := context.WithTimeout(ctx, JournalProbeTimeout)
			defer cancel()
			_, err := s.confirmHere(jctx)
			journalErr <- err
		}()
	} else {
		journalErr <- nil
	}
	dctx, cancel := context.WithTimeout(ctx, DBProbeTimeout)
	defer cancel()
	w, err := s.Store.Writable(dctx)
	h.DBWritable = err == nil && w
	switch {
	case err != nil:
		h.DBError, h.DBErr = "unreachable", err
	case !w:
		h.DBError = "read_only"
	default:
		s.readOnly.cleared()
	}
	s.checkClockHealth(ctx, &h)
	known, terr := s.tables().State(ctx)
	switch {
	case !known:
		h.TableError, h.TableErr = "unknown", terr
	case terr != nil:
		h.TableError, h.TableErr = "unreachable", terr
	default:
		h.TableReachable = true
	}
	if jerr := <-journalErr; jerr != nil && !s.majority.recent(s.now()) {
		h.JournalError, h.JournalErr = "no_majority", jerr
	}
	if c := s.writer.cached(); s.Journal != nil && c.found {
		h.WriterRegion, h.WriterEpoch = c.rec.Region, c.rec.Epoch
		if c.rec.Region != s.Region {
			h.WriterError = "not_writer"
		}
	}
	switch {
	case !h.Healthy():
	case h.TableReachable:
		h.Status = "ok"
	default:
		h.Status = "degraded"
	}
	return h
}

func (s *Service) tables() *TableProbe {
	s.tablesOnce.Do(func() {
		if s.Tables == nil {
			s.Tables = &TableProbe{Sessions: s.Sessions}
		}
	})
	return s.Tables
}

// TableProbe caches the session table's reachability, so /health never
// waits on DynamoDB: a result older than MaxAge is refreshed in the
// background while the last one is reported.
type TableProbe struct {
	Sessions Sessions
	MaxAge   time.Duration // default 10 s
	Timeout  time.Duration // one ping; default 2 s

	mu      sync.Mutex
	known   bool
	err     error
	at      time.Time
	pending chan struct{} // closed when the running refresh ends
}

// State returns the last known reachability. Before the first result it
// waits for the first ping as long as ctx allows.
func (t *TableProbe) State(ctx context.Context) (known bool, err error) {
	t.mu.Lock()
	maxAge := t.MaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Second
	}
	if t.pending == nil && (!t.known || time.Since(t.at) > maxAge) {
		t.pending = make(chan struct{})
		go t.refresh(t.pending)
	}
	known, err, pending := t.known, t.err, t.pending
	t.mu.Unlock()
	if known || pending == nil {
		return known, err
	}
	select {
	case <-pending:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.known, t.err
}

func (t *TableProbe) refresh(done chan struct{}) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := t.Sessions.Ping(ctx)
	cancel()
	t.mu.Lock()
	t.known, t.err, t.at, t.pending = true, err, time.Now(), nil
	t.mu.Unlock()
	close(done)
}

// checkClockHealth reports the clock's skew from the database's; a
// database that does not answer is the DB probe's to report.
func (s *Service) checkClockHealth(ctx context.Context, h *Health) {
	if !h.DBWritable {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, DBProbeTimeout)
	defer cancel()
	if errors.Is(s.clockOK(cctx), ErrClockSkew) {
		skew, _ := s.ClockSkew()
		h.ClockError, h.ClockSkewMs = "skewed", skew.Milliseconds()
	}
}
