package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/payment-dr/payment-dr/internal/awslimits"
)

// Journal claims idempotency keys in a table replicated to a majority of
// Regions before the payment is committed (the payment journal, an MRSC
// DynamoDB table; adapter paymentjournal). A claim is made pending and
// moves once, to committed (by whoever makes sure its payment is in a
// database, before answering) or to aborted (by the claiming request,
// when its payment certainly was not committed). Errors wrap
// ErrUnavailable (nothing of the call stays in the journal) or
// ErrOutcomeUnknown.
type Journal interface {
	// Claim claims p.IdempotencyKey for p, pending, or returns the claim
	// that holds it (pending or committed: an aborted claim gives way).
	Claim(ctx context.Context, p Payment, requestHash string) (Claimed, error)
	// Held reads the claim of a key (strongly consistent).
	Held(ctx context.Context, key string) (c Claimed, found bool, err error)
	// Commit marks p's claim committed (done already: no error); an
	// error wrapping ErrClaimAborted when it was aborted or the key is
	// another payment's.
	Commit(ctx context.Context, p Payment, requestHash string) error
	// Abort marks p's claim aborted if it is pending (a claim that is not
	// p's is left alone); an error wrapping ErrClaimCommitted when a
	// retry or a replay committed it first.
	Abort(ctx context.Context, p Payment, requestHash string) error
	// Retime makes p's claim found by a window read of at (its payment
	// committed at, long after the claim).
	Retime(ctx context.Context, p Payment, requestHash string, at time.Time) error
	// Window calls fn for each claim made (or retimed) in [from, to].
	Window(ctx context.Context, from, to time.Time, fn func(Claimed) error) error
	// Sweep removes the claims made before now − retention.
	Sweep(ctx context.Context, now time.Time, retention time.Duration) (int, error)
	// Writer reads the writer record (strongly consistent; found false
	// when none is recorded yet).
	Writer(ctx context.Context) (rec WriterRecord, found bool, err error)
	// BootstrapWriter records region as the writer at epoch 1 if no
	// writer is recorded, and returns the record that stands.
	BootstrapWriter(ctx context.Context, region string) (WriterRecord, error)
}

// Claimed is a claim: the payment it recreates and its request's hash.
type Claimed struct {
	Payment Payment
	Hash    string
	New     bool   // this call made the claim
	State   string // ClaimPending, ClaimCommitted or ClaimAborted; "" from a Window
}

// States of a claim (Journal).
const (
	ClaimPending   = "pending"
	ClaimCommitted = "committed"
	ClaimAborted   = "aborted"
)

// Errors of a claim's moves.
var (
	// ErrClaimAborted: the claim was aborted (its request failed for
	// certain), or the key is another payment's.
	ErrClaimAborted = errors.New("journal claim aborted")
	// ErrClaimCommitted: the claim was committed by a retry or a replay.
	ErrClaimCommitted = errors.New("journal claim committed")
)

// DefaultJournalRetention is how long a claim is kept: far longer than
// any failover window and than clients retry a key; afterwards the
// writer's own idempotency record still answers a retry.
const DefaultJournalRetention = 7 * 24 * time.Hour

// createClaimed is Create with a journal: the key is claimed in a
// majority of Regions first, then the payment commits, then the claim is
// marked committed, then the answer is sent. A retry of a claimed key
// gets the claimed payment, completed here first if this Region's
// database lacks it; a key whose claim was aborted is claimed anew.
func (s *Service) createClaimed(ctx context.Context, p Payment, hash string) (Payment, Outcome, error) {
	if ago, refusing := s.readOnly.refusing(s.now()); refusing {
		return Payment{}, 0, fmt.Errorf("%w: refused before claiming its key (the database answered read-only %s ago)", ErrReadOnly, ago.Round(time.Millisecond))
	}
	admitted, err := s.admit(ctx)
	if err != nil {
		return Payment{}, 0, err
	}
	got, outcome, err := s.claimAndCommit(ctx, p, hash)
	if err != nil {
		return Payment{}, 0, err
	}
	if err := s.stillWriter(ctx, admitted); err != nil {
		return Payment{}, 0, err
	}
	return got, outcome, nil
}

// claimAndCommit claims the key and commits its payment, or completes the
// payment of the claim that holds the key.
func (s *Service) claimAndCommit(ctx context.Context, p Payment, hash string) (Payment, Outcome, error) {
	for try := 1; ; try++ {
		cl, err := s.Journal.Claim(ctx, p, hash)
		if err != nil {
			return Payment{}, 0, err
		}
		s.majority.saw(s.now())
		if cl.New {
			return s.commitClaimed(ctx, p, hash)
		}
		if cl.Hash != hash {
			return Payment{}, 0, &ConflictError{ExistingID: cl.Payment.ID}
		}
		got, _, err := s.completeClaim(ctx, cl)
		if errors.Is(err, ErrClaimAborted) && try < 2 {
			continue // the attempt that claimed it failed for certain: claim anew
		}
		return got, Replayed, err
	}
}

// commitClaimed commits the payment p whose key this request claimed,
// then its claim. A certain failure aborts the claim first, so that the
// "not applied" answer stays true whatever a retry or a failover's replay
// does next; when one of them committed the claim first, the payment
// stands and the answer is "outcome unknown".
func (s *Service) commitClaimed(ctx context.Context, p Payment, hash string) (Payment, Outcome, error) {
	cctx, cancel := context.WithTimeout(ctx, ClaimCommitDeadline-s.now().Sub(p.CreatedAt))
	c, err := s.Store.Create(cctx, p, hash)
	cancel()
	if err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			return Payment{}, 0, err // the claim stays pending: a retry or the replay finishes it
		}
		if aerr := s.Journal.Abort(ctx, p, hash); aerr != nil {
			return Payment{}, 0, fmt.Errorf("%w: the payment was not committed here (%v), and its journal claim could not be aborted: %v", ErrOutcomeUnknown, err, aerr)
		}
		if errors.Is(err, ErrReadOnly) {
			s.readOnly.saw(s.now())
		}
		return Payment{}, 0, err
	}
	if !c.New && c.Payment.ID != p.ID {
		// The database knew the key before the journal did (a payment from
		// before the journal, or older than its retention): that payment
		// answers, and the claim made for a new one is aborted.
		if aerr := s.Journal.Abort(ctx, p, hash); aerr != nil {
			return Payment{}, 0, fmt.Errorf("%w: the key's payment %s predates its journal claim, which could not be aborted: %v", ErrOutcomeUnknown, c.Payment.ID, aerr)
		}
		if c.Hash != hash {
			return Payment{}, 0, &ConflictError{ExistingID: c.Payment.ID}
		}
		s.afterCommit(ctx, c.Payment, false, c.EventPending)
		return c.Payment, Replayed, nil
	}
	// The mark and what follows the commit (session, event) are
	// independent: one round trip for all of them.
	marked := make(chan error, 1)
	go func() { marked <- s.Journal.Commit(ctx, p, hash) }()
	s.afterCommit(ctx, c.Payment, c.New, c.New || c.EventPending)
	if cerr := <-marked; cerr != nil {
		return Payment{}, 0, fmt.Errorf("%w: the payment committed here, and its journal claim could not be marked committed: %v", ErrOutcomeUnknown, cerr)
	}
	return c.Payment, Created, nil
}

// completeClaim makes sure the payment of a claim found on the key is
// committed here: a pending claim is marked committed first (an error
// wrapping ErrClaimAborted if its request aborted it: nothing was done),
// then Complete (inserted: this call committed the payment here). Other
// errors never say "not applied": the claim stands.
func (s *Service) completeClaim(ctx context.Context, cl Claimed) (p Payment, inserted bool, err error) {
	if cl.State == ClaimPending {
		if err := s.Journal.Commit(ctx, cl.Payment, cl.Hash); err != nil {
			if errors.Is(err, ErrClaimAborted) {
				return Payment{}, false, err
			}
			return Payment{}, false, fmt.Errorf("%w: the key's claim (payment %s) could not be marked committed: %v", ErrOutcomeUnknown, cl.Payment.ID, err)
		}
	}
	return s.Complete(ctx, cl.Payment, cl.Hash)
}

// ReadOnlyHold is how long after its database answered "read-only" a
// Region refuses new payments without claiming their keys. Clients keep
// reaching a demoted writer until the health checks and DNS move them,
// and they retry: each attempt that claimed, failed to commit and
// released would cost four journal writes replicated to every Region,
// which the new writer's claims then wait behind. A /health probe that
// finds the database writable opens the gate at once.
const ReadOnlyHold = time.Second

// readOnlyGate remembers when the database last answered read-only
// (Unix nanoseconds, 0 for "writable as far as known").
type readOnlyGate struct{ seen atomic.Int64 }

func (g *readOnlyGate) saw(now time.Time) { g.seen.Store(now.UnixNano()) }
func (g *readOnlyGate) cleared()          { g.seen.Store(0) }

// refusing reports whether a read-only answer is younger than
// ReadOnlyHold, and its age.
func (g *readOnlyGate) refusing(now time.Time) (time.Duration, bool) {
	seen := g.seen.Load()
	if seen == 0 {
		return 0, false
	}
	ago := now.Sub(time.Unix(0, seen))
	return ago, ago >= 0 && ago < ReadOnlyHold
}

// Complete makes sure a claimed payment is committed here: it commits p
// unless the database holds its key already, then writes what follows a
// commit. It is the one way a claim becomes a payment after the claiming
// request, used by a retried key and by the failover's replay. inserted
// reports that this call committed it. Its errors never say "not
// applied": the claim stands, and a retry finishes it.
func (s *Service) Complete(ctx context.Context, p Payment, hash string) (Payment, bool, error) {
	c, err := s.Store.Create(ctx, p, hash)
	if err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			return Payment{}, false, err
		}
		return Payment{}, false, fmt.Errorf("%w: the key is claimed in the journal and its payment could not be completed here: %v", ErrOutcomeUnknown, err)
	}
	if !c.New && c.Hash != hash {
		return Payment{}, false, &ConflictError{ExistingID: c.Payment.ID}
	}
	if now := s.now(); c.New && now.Sub(p.CreatedAt) > ClaimCommitDeadline {
		// Committed outside the claim's window: a later failover's window
		// must still find it.
		if err := s.Journal.Retime(ctx, p, hash, now); err != nil && s.OnAfterCommitError != nil {
			s.OnAfterCommitError(c.Payment, "journal retime", err)
		}
	}
	s.afterCommit(ctx, c.Payment, c.New, c.New || c.EventPending)
	return c.Payment, c.New, nil
}

// ReplayWindow is the window of a journal replay: the body of the
// {"replayJournal": ...} invocation and of the local POST
// /internal/replay-journal, sent by drctl after a failover.
type ReplayWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ReplayedKey is one payment a replay completed. Key is the idempotency
// key's bytes (base64 in JSON).
type ReplayedKey struct {
	Key       []byte `json:"key"`
	PaymentID string `json:"paymentId"`
}

// ReplayResult is the answer of ReplayJournal (and of the invocation).
type ReplayResult struct {
	Replayed []ReplayedKey `json:"replayed"`
	Present  int           `json:"present"`  // claims whose payment the database had
	Released int           `json:"released"` // time items whose claim was aborted, removed, or is another payment's
	// Incomplete: the call stopped before the window's end (its answer
	// was full, or its time was running out); what it replayed is in the
	// database, and the same window asked again continues where it
	// stopped. Present and Released then count only the claims it reached.
	// Absent from an answer that covered the window (as from a function
	// older than the field).
	Incomplete bool `json:"incomplete,omitempty"`
	// Stopped says why an incomplete call stopped.
	Stopped string `json:"stopped,omitempty"`
}

// MaxReplayPage is the most payments one ReplayJournal answer lists, so
// that the answer of the replay's synchronous invocation stays under
// awslimits.LambdaSyncResponse (Lambda API Reference, Invoke): each entry
// takes at most maxReplayedKeyJSON bytes (a key of MaxIdempotencyKeyLen
// bytes in base64, a payment id), and replayAnswerRoom is kept for the
// rest of the answer.
var MaxReplayPage = (awslimits.LambdaSyncResponse.Max - replayAnswerRoom) / maxReplayedKeyJSON

const (
	maxReplayedKeyJSON = len(`{"key":"","paymentId":""},`) + (MaxIdempotencyKeyLen+2)/3*4 + idLen
	replayAnswerRoom   = 4096
)

// ReplayReserve is how long before its context's deadline (the end of a
// Lambda invocation: the Go runtime puts the invocation's deadline on
// the handler's context) a replay stops starting completions and answers
// Incomplete: the completions in flight, a strongly consistent journal
// read and a commit each, end and the answer goes out in time. A context
// with less than twice that left keeps half of it.
const ReplayReserve = 10 * time.Second

// errReplayStopped ends a replay that stopped at one of its bounds.
var errReplayStopped = errors.New("replay stopped at its bound")

// ReplayJournal completes, in this Region's database, every payment
// claimed in [from, to] that it lacks: after a failover, the payments
// the old writer acknowledged but had not replicated. The cost grows with
// the window's claims: one database read per MaxPresentBatch claims, and
// one journal read and one commit per missing payment, ReplayParallelism
// of them at a time. The order of Replayed is not the claims' order.
//
// One call completes at most ReplayPage payments and stops ReplayReserve
// before ctx's deadline; it then answers Incomplete, and the caller asks
// again for the same window: what was completed is present by then, one
// database read per MaxPresentBatch claims.
func (s *Service) ReplayJournal(ctx context.Context, from, to time.Time) (ReplayResult, error) {
	res := ReplayResult{Replayed: []ReplayedKey{}}
	if s.Journal == nil {
		return res, errors.New("replay: this service has no journal (JOURNAL_TABLE is not set)")
	}
	// Only the writer's database may receive the claims: a replay sent to
	// the wrong Region would commit payments where no client reads them.
	if _, err := s.admit(ctx); err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	r := &replayRun{s: s, res: &res, page: s.replayPage()}
	r.stopAt, r.reserve = replayStopAt(ctx)
	batch := make([]Claimed, 0, MaxPresentBatch)
	err := s.Journal.Window(ctx, from, to, func(c Claimed) error {
		if r.outOfTime() {
			return errReplayStopped
		}
		if batch = append(batch, c); len(batch) < MaxPresentBatch {
			return nil
		}
		err := r.batch(ctx, batch)
		batch = batch[:0]
		return err
	})
	if err == nil {
		err = r.batch(ctx, batch)
	}
	if errors.Is(err, errReplayStopped) {
		res.Incomplete, res.Stopped, err = true, r.stopped, nil
	}
	return res, err
}

func (s *Service) replayPage() int {
	if s.ReplayPage > 0 && s.ReplayPage < MaxReplayPage {
		return s.ReplayPage
	}
	return MaxReplayPage
}

// replayStopAt is when a replay under ctx stops starting completions
// (zero: no deadline), and how long before the deadline that is.
func replayStopAt(ctx context.Context) (time.Time, time.Duration) {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, 0
	}
	reserve := min(ReplayReserve, time.Until(d)/2)
	return d.Add(-reserve), reserve
}

// ReplayParallelism is how many missing payments a replay completes at
// once: each costs a strongly consistent journal read and a commit, round
// trips that would add up one after another over a lost window.
const ReplayParallelism = 16

// replayRun is one ReplayJournal call: its answer so far and its bounds.
type replayRun struct {
	s       *Service
	res     *ReplayResult
	page    int
	stopAt  time.Time
	reserve time.Duration
	stopped string
}

func (r *replayRun) outOfTime() bool {
	if r.stopAt.IsZero() || time.Now().Before(r.stopAt) {
		return false
	}
	r.stopped = fmt.Sprintf("time: stopped starting completions %s before its deadline", r.reserve.Round(time.Millisecond))
	return true
}

// batch completes the claims of batch whose payment the database lacks,
// never more than the page has room for: completions that find the
// claim released or the payment present leave their room to the next.
func (r *replayRun) batch(ctx context.Context, batch []Claimed) error {
	if len(batch) == 0 {
		return nil
	}
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.Payment.ID
	}
	held, err := r.s.Store.Present(ctx, ids)
	if err != nil {
		return fmt.Errorf("replay: which of %d claimed payments the database holds: %w", len(ids), err)
	}
	missing := make([]Claimed, 0, len(batch))
	for _, c := range batch {
		if held[c.Payment.ID] {
			r.res.Present++
		} else {
			missing = append(missing, c)
		}
	}
	for len(missing) > 0 {
		room := r.page - len(r.res.Replayed)
		if room <= 0 {
			r.stopped = fmt.Sprintf("page: %d payments, the most one answer lists", r.page)
			return errReplayStopped
		}
		n := min(room, len(missing))
		if err := r.complete(ctx, missing[:n]); err != nil {
			return err
		}
		missing = missing[n:]
	}
	return nil
}

// complete completes claims, ReplayParallelism at a time, starting none
// once the run is out of time (checked when a completion can start, not
// before waiting for its turn).
func (r *replayRun) complete(ctx context.Context, claims []Claimed) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	turns := make(chan struct{}, ReplayParallelism)
	stopped := false
	for _, c := range claims {
		turns <- struct{}{}
		if stopped = r.outOfTime(); stopped {
			break
		}
		g.Go(func() error {
			defer func() { <-turns }()
			done, err := r.s.replayOne(gctx, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
			case done == nil:
				r.res.Released++
			case done.PaymentID == "":
				r.res.Present++
			default:
				r.res.Replayed = append(r.res.Replayed, *done)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil || !stopped {
		return err
	}
	return errReplayStopped
}

// replayOne completes one claim the database lacks, if the key is still
// claimed for its payment and the claim is not aborted: a pending claim
// is marked committed first, so that its request, still running in the
// old Region, can no longer answer "not applied". It returns nil when
// the claim is not to be completed, a ReplayedKey without a payment id
// when the database held it after all.
func (s *Service) replayOne(ctx context.Context, c Claimed) (*ReplayedKey, error) {
	held, found, err := s.Journal.Held(ctx, c.Payment.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	if !found || held.Payment.ID != c.Payment.ID || held.State == ClaimAborted {
		return nil, nil
	}
	p, inserted, err := s.completeClaim(ctx, held)
	var conflict *ConflictError
	switch {
	case errors.Is(err, ErrClaimAborted):
		return nil, nil
	case errors.As(err, &conflict):
		// The database holds another request's payment under the key
		// (from before the journal): there is nothing to complete.
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("replay of payment %s: %w", held.Payment.ID, err)
	}
	if !inserted {
		return &ReplayedKey{}, nil
	}
	return &ReplayedKey{Key: []byte(p.IdempotencyKey), PaymentID: p.ID}, nil
}

// SweepJournal removes the journal's claims older than the retention,
// until ctx's deadline (the rest continues on the next run). Only the
// Region whose database is writable sweeps; in the other it returns an
// error wrapping ErrReadOnly. The journal is shared: two Regions walking
// the same minutes would send every delete twice, each a cross-Region
// round trip. The writer is the Region that claims nearly every payment,
// so the one whose sweep must keep up with them; while a Region is down
// the survivor is, or after the failover becomes, the writer and sweeps
// on. A Region that cannot tell (its database unreachable) does not
// sweep: the expired claims wait, they hold nothing up.
func (s *Service) SweepJournal(ctx context.Context) (int, error) {
	if s.Journal == nil {
		return 0, nil
	}
	writable, err := s.Store.Writable(ctx)
	if err != nil {
		return 0, fmt.Errorf("journal sweep: whether this Region's database is writable: %w", err)
	}
	if !writable {
		return 0, fmt.Errorf("%w: the journal is swept by the Region whose database is writable", ErrReadOnly)
	}
	retention := s.JournalRetention
	if retention <= 0 {
		retention = DefaultJournalRetention
	}
	return s.Journal.Sweep(ctx, s.now(), retention)
}
