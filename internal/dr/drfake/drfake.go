// Package drfake is a typed fake of both Regions for drctl's tests: the
// global cluster with asynchronous moves, each Region's health, database
// contents (for canaries), parameters, backups and permissions.
package drfake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

var _ dr.JournalReplayer = (*World)(nil)

// World is both Regions as drctl sees them: the global cluster, each
// Region's database (canary payment ids), health, parameters. Switchover
// and failover take two polls of GlobalCluster to complete, like the real
// asynchronous APIs.
type World struct {
	mu       sync.Mutex
	regions  []string
	Writer   string
	status   string
	memberSt map[string]string
	pending  string // target of a move in progress
	moves    int
	calls    []string
	Lag      map[string]time.Duration
	Params   map[string]map[string]string
	Down     map[string]bool // Region lost (API and database)
	data     map[string]map[string]bool
	// replicate=false: writes stay in the writer's Region (lag).
	Replicate bool
	Denied    []string
	Backups   map[string]time.Time
	Records   []string
	FailPut   map[string]int // Region -> PutParameter failures to inject
	AllowLoss []bool
	// Instances per Region (default 1); 0 makes a headless cluster.
	Instances map[string]int
	// Functions per Region (default Active, no reserved concurrency).
	Functions map[string]dr.FunctionInfo
	// StaleDNS is how many more answers through the failover name still
	// come from the Region that answered before (resolver caches).
	StaleDNS int
	lastDNS  string
	seq      int
	// CancelMoves makes the next move RDS cancels: it reports
	// "cancelling" for two polls, then the writer is unchanged.
	CancelMoves int
	cancelling  bool
	moveFrom    string
	allowLoss   bool
	// Engine per Region (default 8.0.mysql_aurora.3.05.2) and Sync, the
	// secondary's SynchronizationStatus (default connected).
	Engine map[string]string
	Sync   map[string]string
	// HealthErr makes Health of a Region fail; TableDown makes its
	// /health report the session table unreachable.
	HealthErr map[string]error
	TableDown map[string]bool
	// LagErr makes ReplicationLag fail (e.g. the metric is missing).
	LagErr error
	// Fenced Regions refuse application writes (FenceWrites).
	Fenced map[string]bool
	// Kept are the references KeepOldPrimaryData returned.
	Kept []string
	// AckDown: the lost Region keeps acknowledging canary writes into its
	// own database (split brain) until fenced.
	AckDown bool
	// Unread makes Canary.Read of these ids fail.
	Unread map[string]bool
	// FenceErr makes FenceWrites fail (the Region's Lambda API is down
	// while its service still writes).
	FenceErr error
	// MovePolls is how many GlobalCluster polls a move takes (default 2).
	MovePolls int
	// GCErr makes the next GCErr GlobalCluster calls fail.
	GCErr int
	// OldWritable: a Region that lost the writer came back with its
	// database still accepting writes (Aurora's fence of the old primary
	// failed); it serves and acknowledges payments into its own database
	// unless its service is fenced, until Aurora rejoins it.
	OldWritable map[string]bool
	// RejoinPolls: Aurora rejoins the Region as a replica (no longer
	// writable, then connected) after this many polls of GlobalCluster
	// or OldPrimaryFenced.
	RejoinPolls map[string]int
	// ResyncAfterMove: once a move completes, the old writer reports
	// pending-resync for this many polls before it is connected.
	ResyncAfterMove int
	// Journal: canary writes are claimed in a payment journal first (a
	// Region that is Down reaches no majority and claims nothing), and
	// ReplayJournal completes the claims a Region's database lacks.
	Journal bool
	claims  []claim
	// ReplayErr makes the next ReplayErr ReplayJournal calls fail.
	ReplayErr int
	// ReplayPage, if set, is the most payments one ReplayJournal call
	// completes; it then answers Incomplete, as the payment function does
	// at its page or its deadline.
	ReplayPage int
	Replays    []string // "<region> <from>/<to>" of each ReplayJournal call
	// Epoch is the journal's writer record (Region "": none recorded);
	// while it names a Region, no other Region's service serves.
	Epoch dr.WriterEpoch
	// EpochErr makes the next EpochErr writer-record calls fail.
	EpochErr int
	// Now is the clock of the services (claims and writer marks; default
	// time.Now).
	Now func() time.Time
	// marks: per database, the newest writer mark of each Region in it.
	marks map[string]map[string]time.Time
}

// claim is one journal entry: a key claimed for a payment at a time.
type claim struct {
	key, id string
	at      time.Time
}

// NewWorld starts with the writer in us-east-1, everything healthy.
func NewWorld() *World {
	w := &World{
		regions: []string{"us-east-1", "us-west-2"}, Writer: "us-east-1", status: "available",
		memberSt: map[string]string{"us-east-1": "available", "us-west-2": "available"},
		Lag:      map[string]time.Duration{"us-west-2": 800 * time.Millisecond, "us-east-1": 0},
		Params:   map[string]map[string]string{"us-east-1": {}, "us-west-2": {}},
		Down:     map[string]bool{}, data: map[string]map[string]bool{"us-east-1": {}, "us-west-2": {}},
		Replicate: true, Backups: map[string]time.Time{}, FailPut: map[string]int{},
		Instances: map[string]int{"us-east-1": 1, "us-west-2": 1},
		Functions: map[string]dr.FunctionInfo{"us-east-1": {State: "Active"}, "us-west-2": {State: "Active"}},
		Engine:    map[string]string{"us-east-1": "8.0.mysql_aurora.3.05.2", "us-west-2": "8.0.mysql_aurora.3.05.2"},
		Sync:      map[string]string{"us-west-2": "connected"},
		HealthErr: map[string]error{}, TableDown: map[string]bool{}, Fenced: map[string]bool{}, Unread: map[string]bool{},
		OldWritable: map[string]bool{}, RejoinPolls: map[string]int{},
	}
	// A deployed writer has marked its database, and the mark replicated.
	start := time.Now()
	w.marks = map[string]map[string]time.Time{"us-east-1": {"us-east-1": start}, "us-west-2": {"us-east-1": start}}
	for _, r := range w.regions {
		w.Params[r]["/payment/dev/dr/active-region"] = "us-east-1"
		w.Backups[r] = time.Now().Add(-3 * time.Hour)
	}
	return w
}

func (w *World) call(s string) { w.calls = append(w.calls, s) }

func (w *World) GlobalCluster(context.Context) (dr.GlobalCluster, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("DescribeGlobalClusters")
	w.markWriter()
	if w.GCErr > 0 {
		w.GCErr--
		return dr.GlobalCluster{}, errors.New("DescribeGlobalClusters: RequestTimeout")
	}
	var mv dr.Move
	if w.pending != "" {
		mv = dr.Move{From: w.moveFrom, To: w.pending, Status: "pending", DataLossAllowed: w.allowLoss}
		if w.cancelling {
			mv.Status = dr.MoveCancelling
		}
		w.moves--
		if w.moves <= 0 {
			if !w.cancelling {
				w.Writer = w.pending
				if w.ResyncAfterMove > 0 {
					w.Sync[w.moveFrom], w.RejoinPolls[w.moveFrom] = "pending-resync", w.ResyncAfterMove+1
				}
			}
			w.pending, w.status, w.cancelling = "", "available", false
		}
	}
	w.rejoin()
	g := dr.GlobalCluster{ID: "payments-global-dev", Status: w.status, Move: mv}
	for _, r := range w.regions {
		st := w.memberSt[r]
		if w.Down[r] {
			st = "inaccessible"
		}
		g.Members = append(g.Members, dr.Member{Region: r, Writer: r == w.Writer, Status: st, Instances: w.Instances[r], Endpoint: "payments-" + r + "-dev.cluster-x." + r + ".rds.amazonaws.com",
			ClusterARN: "arn:aws:rds:" + r + ":111111111111:cluster:payments-" + r + "-dev", EngineVersion: w.Engine[r], SynchronizationStatus: w.Sync[r]})
	}
	return g, nil
}

// rejoin counts down Aurora's rejoin of each returned old primary.
func (w *World) rejoin() {
	for r, n := range w.RejoinPolls {
		if n--; n > 0 {
			w.RejoinPolls[r] = n
			continue
		}
		delete(w.RejoinPolls, r)
		delete(w.OldWritable, r)
		w.Sync[r] = "connected"
	}
}

func (w *World) move(target string, op string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call(op + " " + target)
	if w.pending != "" {
		return errors.New("InvalidGlobalClusterStateFault: a switchover is already in progress")
	}
	if w.Writer == target {
		return errors.New("InvalidGlobalClusterStateFault: already the writer")
	}
	w.pending, w.moves, w.status, w.moveFrom = target, max(w.MovePolls, 2), "switching-over", w.Writer
	if w.CancelMoves > 0 {
		w.CancelMoves--
		w.cancelling = true
	}
	return nil
}

func (w *World) Switchover(_ context.Context, region string) error {
	if w.Down[w.Writer] {
		return errors.New("InvalidGlobalClusterStateFault: the writer's Region is unavailable")
	}
	return w.move(region, "SwitchoverGlobalCluster")
}

func (w *World) Failover(_ context.Context, region string, allowDataLoss bool) error {
	w.mu.Lock()
	w.AllowLoss = append(w.AllowLoss, allowDataLoss)
	w.allowLoss = allowDataLoss
	w.mu.Unlock()
	return w.move(region, "FailoverGlobalCluster")
}

func (w *World) ReplicationLag(_ context.Context, region string) (time.Duration, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.LagErr != nil {
		return 0, w.LagErr
	}
	return w.Lag[region], nil
}
func (w *World) TableReplicationLatency(context.Context, string) (time.Duration, error) {
	return 400 * time.Millisecond, nil
}
func (w *World) TableReplicas(context.Context) ([]dr.Replica, error) {
	return []dr.Replica{{Region: "us-east-1", Status: "ACTIVE"}, {Region: "us-west-2", Status: "ACTIVE"}}, nil
}

// writable: region's database takes writes (the writer's, or an old
// primary Aurora did not fence).
func (w *World) writable(region string) bool {
	return (w.Writer == region && w.pending == "" || w.OldWritable[region]) && !w.Down[region]
}

// serves: region's /health answers 200 (writable database, service not
// fenced), which is what Route 53's health check sees.
func (w *World) serves(region string) bool {
	return w.writable(region) && !w.Fenced[region] && (w.Epoch.Region == "" || w.Epoch.Region == region)
}

// JournalWriter implements dr.Epochs.
func (w *World) JournalWriter(_ context.Context, via string) (dr.WriterEpoch, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("JournalWriter " + via)
	if err := w.epochErr(via); err != nil {
		return dr.WriterEpoch{}, false, err
	}
	return w.Epoch, w.Epoch.Region != "", nil
}

// SetJournalWriter implements dr.Epochs.
func (w *World) SetJournalWriter(_ context.Context, target string, prev int64, setBy string) (dr.WriterEpoch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("SetJournalWriter " + target)
	if err := w.epochErr(target); err != nil {
		return dr.WriterEpoch{}, err
	}
	if w.Epoch.Epoch != prev {
		return w.Epoch, fmt.Errorf("the journal's writer epoch moved: expected %d, found %d", prev, w.Epoch.Epoch)
	}
	w.Epoch = dr.WriterEpoch{Region: target, Epoch: prev + 1, SetAt: time.Now(), SetBy: setBy}
	return w.Epoch, nil
}

func (w *World) epochErr(via string) error {
	switch {
	case w.Down[via]:
		return fmt.Errorf("journal unavailable: %s reaches no majority", via)
	case w.EpochErr > 0:
		w.EpochErr--
		return errors.New("journal unavailable: InternalServerError")
	}
	return nil
}

func (w *World) HealthCheckHealthy(_ context.Context, region string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.serves(region), nil
}
func (w *World) FailoverRecordsHaveHealthChecks(context.Context) ([]string, error) {
	return w.Records, nil
}

func (w *World) Health(_ context.Context, region string) (dr.RegionHealth, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Down[region] {
		return dr.RegionHealth{}, fmt.Errorf("dial api-%s: connection refused", region)
	}
	if err := w.HealthErr[region]; err != nil {
		return dr.RegionHealth{}, err
	}
	if w.Fenced[region] {
		// A function throttled at reserved concurrency 0 never runs: API
		// Gateway answers 500 Internal Server Error for it (AWS re:Post
		// knowledge center, "API Gateway internal server error":
		// throttling occurs), /health included.
		return dr.RegionHealth{Reachable: true, Status: "500 Internal Server Error"}, nil
	}
	return dr.RegionHealth{Region: region, Reachable: true, DBWritable: w.writable(region), TableReachable: !w.TableDown[region]}, nil
}

// answer is Route 53's failover routing: the primary record's Region
// (the configured primary) while its health check is healthy, else the
// secondary's if healthy, else the primary's. Resolver caches keep the
// previous answer for StaleDNS more answers.
func (w *World) answer() string {
	target := w.regions[0]
	if !w.serves(w.regions[0]) && w.serves(w.regions[1]) {
		target = w.regions[1]
	}
	if w.StaleDNS > 0 && w.lastDNS != "" {
		w.StaleDNS--
		target = w.lastDNS
	}
	w.lastDNS = target
	return target
}

// FailoverHealth calls /health of the Region the failover name answers with.
func (w *World) FailoverHealth(ctx context.Context) (dr.RegionHealth, error) {
	w.mu.Lock()
	target := w.answer()
	w.mu.Unlock()
	return w.Health(ctx, target)
}

// FailoverAnswer is the data-plane DNS answer of the failover name.
func (w *World) FailoverAnswer(context.Context) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("DNS api")
	return w.answer(), nil
}

// FenceWrites stops application writes in region (it must answer).
func (w *World) FenceWrites(_ context.Context, region string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("FenceWrites " + region)
	if w.FenceErr != nil {
		return w.FenceErr
	}
	if w.Down[region] && !w.AckDown {
		return fmt.Errorf("lambda %s: connection refused", region)
	}
	w.Fenced[region] = true
	return nil
}

// UnfenceWrites lets region's payment service write again.
func (w *World) UnfenceWrites(_ context.Context, region string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("UnfenceWrites " + region)
	if w.Down[region] {
		return fmt.Errorf("lambda %s: connection refused", region)
	}
	delete(w.Fenced, region)
	return nil
}

// OldPrimaryFenced: region no longer holds the writer (and its database
// does not take writes), or is fenced while it still holds it.
func (w *World) OldPrimaryFenced(_ context.Context, region string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rejoin()
	if w.OldWritable[region] {
		return false, nil
	}
	return w.Writer != region || w.Fenced[region], nil
}

// WritesFenced reads region's fence (its Lambda API must answer).
func (w *World) WritesFenced(_ context.Context, region string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("WritesFenced " + region)
	if w.Down[region] {
		return false, fmt.Errorf("lambda %s: connection refused", region)
	}
	return w.Fenced[region], nil
}

// KeepOldPrimaryData keeps the old primary's data; it needs the Region.
func (w *World) KeepOldPrimaryData(_ context.Context, region string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("KeepOldPrimaryData " + region)
	if w.Down[region] {
		return "", fmt.Errorf("rds %s: connection refused", region)
	}
	ref := "payments-" + region + "-dev-kept-" + fmt.Sprint(len(w.Kept)+1)
	w.Kept = append(w.Kept, ref)
	return ref, nil
}

func (w *World) Parameter(_ context.Context, region, name string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Down[region] {
		return "", errors.New("ssm unreachable")
	}
	return w.Params[region][name], nil
}

func (w *World) PutParameter(_ context.Context, region, name, value string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("PutParameter " + region + " " + name + "=" + value)
	if w.FailPut[region] > 0 {
		w.FailPut[region]--
		return errors.New("ThrottlingException: Rate exceeded")
	}
	if w.Down[region] {
		return errors.New("ssm unreachable")
	}
	w.Params[region][name] = value
	return nil
}

func (w *World) NewestRecoveryPoint(_ context.Context, region string) (time.Time, error) {
	return w.Backups[region], nil
}
func (w *World) Function(_ context.Context, region string) (dr.FunctionInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Functions[region], nil
}
func (w *World) DeniedActions(context.Context) ([]string, error) { return w.Denied, nil }

// markWriter is the writer's service marking its database, as it does
// every few seconds, and the mark replicating while replication runs.
func (w *World) markWriter() {
	r := w.Writer
	if r == "" || w.Down[r] || w.pending != "" {
		return
	}
	now := w.now()
	w.marks[r][r] = now
	if w.Replicate {
		for _, o := range w.regions {
			w.marks[o][r] = now
		}
	}
}

// ForgetMarks removes every writer mark from region's database (one that
// never replicated a mark).
func (w *World) ForgetMarks(region string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.marks[region] = map[string]time.Time{}
}

func (w *World) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// ReplayWindowAfter implements dr.JournalReplayer: from old's newest mark
// in region's database, as payments.Service.ReplayWindowAfter.
func (w *World) ReplayWindowAfter(_ context.Context, region, old string) (payments.ReplayBounds, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("ReplayWindowAfter " + region)
	switch {
	case w.Down[region]:
		return payments.ReplayBounds{}, errors.New("lambda:InvokeFunction in " + region + ": Region down")
	case w.Epoch.Region != "" && w.Epoch.Region != region:
		return payments.ReplayBounds{}, errors.New("replay window: this Region is not the journal's writer: " + w.Epoch.Region + " is")
	}
	b := payments.ReplayBounds{To: w.now().Add(payments.ReplaySlack)}
	if m, ok := w.marks[region][old]; ok {
		b.From, b.Mark = m.Add(-payments.ClaimCommitDeadline-payments.ReplaySlack), m
	}
	return b, nil
}

// ReplayJournal implements dr.JournalReplayer: the claims of [from, to]
// missing from region's database are added to it, at most ReplayPage of
// them per call.
func (w *World) ReplayJournal(_ context.Context, region string, from, to time.Time) (payments.ReplayResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("ReplayJournal " + region)
	w.Replays = append(w.Replays, region+" "+from.Format(time.RFC3339)+"/"+to.Format(time.RFC3339))
	res := payments.ReplayResult{Replayed: []payments.ReplayedKey{}}
	switch {
	case w.Down[region]:
		return res, errors.New("lambda:InvokeFunction in " + region + ": Region down")
	case w.Epoch.Region != "" && w.Epoch.Region != region:
		return res, errors.New("replay: this Region is not the journal's writer: " + w.Epoch.Region + " is")
	case w.ReplayErr > 0:
		w.ReplayErr--
		return res, errors.New("payment function: the database is not writable yet")
	case !w.Journal:
		return res, nil
	}
	for _, c := range w.claims {
		switch {
		case c.at.Before(from) || c.at.After(to):
		case w.data[region][c.id]:
			res.Present++
		case w.ReplayPage > 0 && len(res.Replayed) == w.ReplayPage:
			res.Incomplete, res.Stopped = true, fmt.Sprintf("page: %d payments", w.ReplayPage)
			return res, nil
		default:
			w.data[region][c.id] = true
			res.Replayed = append(res.Replayed, payments.ReplayedKey{Key: []byte(c.key), PaymentID: c.id})
		}
	}
	return res, nil
}

// Canary writes through the failover name: it reaches the Region Route 53
// considers healthy, which takes writes only while it holds the writer.
type Canary struct{ W *World }

func (c Canary) Write(_ context.Context, key string) (string, string, error) {
	w := c.W
	w.mu.Lock()
	defer w.mu.Unlock()
	// Split brain: a lost Region still holding the writer acknowledges
	// writes into its own database that nobody replicates, until fenced
	// or until the promotion completes.
	if r := w.Writer; w.AckDown && w.Down[r] && !w.Fenced[r] {
		if w.Journal {
			return "", "", errors.New("503 outcome_unknown: the journal has no majority in " + r)
		}
		w.seq++
		id := fmt.Sprintf("p%04d", w.seq)
		w.data[r][id] = true
		return id, r, nil
	}
	for _, r := range w.regions {
		if !w.serves(r) {
			continue
		}
		if w.Journal && w.Down[r] {
			return "", "", errors.New("503 outcome_unknown: the journal has no majority in " + r)
		}
		w.seq++
		id := fmt.Sprintf("p%04d", w.seq)
		now := w.now()
		if w.Journal {
			w.claims = append(w.claims, claim{key: key, id: id, at: now})
		}
		w.data[r][id] = true
		w.marks[r][r] = now
		if r == w.Writer && w.Replicate {
			for _, o := range w.regions {
				w.data[o][id] = true
			}
		}
		w.markWriter()
		return id, r, nil
	}
	return "", "", errors.New("503 region_read_only")
}

func (c Canary) Read(_ context.Context, region, id string) (bool, error) {
	c.W.mu.Lock()
	defer c.W.mu.Unlock()
	if c.W.Unread[id] {
		return false, fmt.Errorf("GET /payments/%s in %s: 502", id, region)
	}
	return c.W.data[region][id], nil
}

// Called counts the calls starting with prefix.
func (w *World) Called(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		if len(c) >= len(prefix) && c[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

// Calls returns the calls made so far.
func (w *World) Calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// Reconcile reads each Region's canary payments as reconcile's old
// primary data and the writer's (keys are the payment ids, created one
// millisecond apart in id order).
type Reconcile struct{ W *World }

// reconcileEpoch is when the fake's first payment was created.
var reconcileEpoch = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)

// Open implements reconcile.Access.
func (r Reconcile) Open(_ context.Context, old string) (reconcile.Source, reconcile.Target, func(context.Context) error, error) {
	w := r.W
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("Reconcile.Open " + old)
	if w.Down[old] {
		return nil, nil, nil, fmt.Errorf("%s is down", old)
	}
	var src source
	for id := range w.data[old] {
		var seq int
		fmt.Sscanf(id, "p%d", &seq)
		p := payments.Payment{ID: id, IdempotencyKey: id, Amount: 1, Currency: "EUR", Region: old, CreatedAt: reconcileEpoch.Add(time.Duration(seq) * time.Millisecond)}
		src = append(src, mysqlstore.Row{Payment: p})
	}
	slices.SortFunc(src, func(a, b mysqlstore.Row) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return src, target{w: w, writer: w.Writer}, func(context.Context) error { return nil }, nil
}

// source is the old primary's payments in (created_at, id) order.
type source []mysqlstore.Row

func (s source) Newest(context.Context) (time.Time, error) {
	if len(s) == 0 {
		return time.Time{}, nil
	}
	return s[len(s)-1].CreatedAt, nil
}

func (s source) Page(_ context.Context, after reconcile.Cursor, limit int) ([]mysqlstore.Row, error) {
	var out []mysqlstore.Row
	for _, r := range s {
		if c := cmp.Or(r.CreatedAt.Compare(after.CreatedAt), cmp.Compare(r.ID, after.ID)); c > 0 && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

type target struct {
	w      *World
	writer string
}

func (t target) Holders(_ context.Context, keys []string) (map[string]string, error) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	out := map[string]string{}
	for _, k := range keys {
		if t.w.data[t.writer][k] {
			out[k] = k
		}
	}
	return out, nil
}

func (t target) Apply(_ context.Context, r mysqlstore.Row) (reconcile.Outcome, error) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	t.w.data[t.writer][r.IdempotencyKey] = true
	return reconcile.Applied, nil
}
