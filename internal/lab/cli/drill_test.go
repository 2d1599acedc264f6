package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/measure"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/dr/report"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
)

// fakeLab is a lab in memory with the daemon's rules where the drill
// depends on them: lag grows while replication is stalled, a Region that
// comes back resynchronises for a while before its replica is connected,
// drctl drill moves the writer and writes its canaries and report.
type fakeLab struct {
	t               *testing.T
	mu              sync.Mutex
	writer, other   string
	stalled         bool
	lagMs           int64
	down            map[string]bool
	partitioned     map[string]bool
	frozen          map[string]bool
	resyncPolls     int // Status calls until a Region that came back is connected
	drilling        bool
	log             []string
	verifyMissing   []string // what Verify reports missing
	missingWhileCut []string // what Verify reports missing while a Region is down or partitioned
	returnedAcks    bool     // a returned old writer acknowledges its client's payments
	// The Region switch: arc-triggers' mode, the latest execution, how
	// many Status calls it runs, and the failover URL's ack file.
	triggers string
	arcRun   *labapi.RegionSwitchRun
	arcPolls int
	ackFile  string
}

func newFakeLab(t *testing.T) *fakeLab {
	return &fakeLab{t: t, writer: "us-east-1", other: "us-west-2", down: map[string]bool{}, partitioned: map[string]bool{}, frozen: map[string]bool{}}
}

func (f *fakeLab) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
}

func (f *fakeLab) Status(context.Context) (labapi.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stalled {
		f.lagMs += 500
	}
	replica := labapi.Member{Region: f.other, Reachable: !f.down[f.other], Status: labapi.Available, Sync: labapi.SyncConnected, LagMs: f.lagMs}
	if f.resyncPolls > 0 {
		f.resyncPolls--
		replica.Sync = labapi.SyncPendingResync
	}
	st := labapi.Status{FloorMs: 4000,
		Cluster: labapi.Cluster{Writer: f.writer, Status: labapi.Available,
			Members: []labapi.Member{{Region: f.writer, Writer: true, Reachable: true, Status: labapi.Available}, replica}},
		Services: map[string]labapi.Service{f.writer: {Running: true, Health: 200}},
		Checks:   map[string]labapi.Check{f.writer: {Healthy: true}}}
	f.stepRegionSwitch()
	if f.arcRun != nil {
		run := *f.arcRun
		st.RegionSwitch.Latest = &run
	}
	for r := range f.down {
		st.Down = append(st.Down, r)
	}
	for r := range f.partitioned {
		st.Partitioned = append(st.Partitioned, r)
	}
	return st, nil
}

func (f *fakeLab) Fault(_ context.Context, req labapi.FaultRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, strings.TrimSpace("fault "+req.Kind+" "+strings.Join(req.Args, " ")))
	switch req.Kind {
	case labapi.ReplicationStall:
		f.stalled = true
	case labapi.ARCTriggers:
		f.triggers = req.Args[0]
	case labapi.RegionDown:
		if f.triggers != "" && f.triggers != labapi.TriggersOff && req.Args[0] == f.writer {
			f.down[req.Args[0]] = true
			f.arcRun = &labapi.RegionSwitchRun{ID: fmt.Sprintf("lab-%d", len(f.log)), Action: "activate", Mode: "ungraceful", Region: f.other, State: "inProgress", Started: time.Now()}
			if f.triggers == labapi.TriggersApprove {
				f.arcRun.State, f.arcRun.PendingApproval = "pendingManualApproval", "approve"
			}
			f.arcPolls = 3
			return nil
		}
		if !f.drilling {
			f.t.Errorf("region-down outside the drill")
		}
		f.down[req.Args[0]] = true
	case labapi.RegionUp:
		delete(f.down, req.Args[len(req.Args)-1])
		f.resyncPolls = 3
	case labapi.Partition:
		if !f.drilling {
			f.t.Errorf("partition outside the drill")
		}
		f.partitioned[req.Args[0]] = true
	case labapi.PartitionHeal:
		delete(f.partitioned, req.Args[0])
	case labapi.DBFreeze:
		if !f.drilling {
			f.t.Errorf("db-freeze outside the drill")
		}
		f.frozen[req.Args[0]] = true
	case labapi.DBThaw:
		delete(f.frozen, req.Args[0])
	}
	return nil
}

type fakeLoad struct {
	mu     sync.Mutex
	file   string
	region string // a client inside this Region: keys of its own
	acked  int64
	refuse bool // every answer 503 region_not_writer (a returned old writer)
}

// Acked grows by 50 each time it is read, as a load would meanwhile.
func (l *fakeLoad) Acked() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked += 50
	return l.acked
}

func (l *fakeLoad) Stop() error {
	var b bytes.Buffer
	for i := range l.acked {
		a := acks.Ack{Key: fmt.Sprintf("key-%s%d", l.region, i), PaymentID: strings.Repeat("a", 32), Amount: 1, Currency: "USD", Status: 201,
			Region: l.region, At: time.Now()}
		if l.refuse {
			a.PaymentID, a.Status, a.Code = "", 503, "region_not_writer"
		}
		line, _ := json.Marshal(a)
		b.Write(append(line, '\n'))
	}
	return os.WriteFile(l.file, b.Bytes(), 0o644)
}

// stepRegionSwitch runs the latest execution a Status call further: once
// approved and after a few polls, the writer moves and the target
// acknowledges a payment through the failover URL.
func (f *fakeLab) stepRegionSwitch() {
	x := f.arcRun
	if x == nil || x.State != "inProgress" {
		return
	}
	if f.arcPolls--; f.arcPolls > 0 {
		return
	}
	f.writer, f.other = x.Region, f.writer
	f.stalled, f.lagMs = false, 0
	x.State, x.Ended = "completed", time.Now()
	b, _ := json.Marshal(acks.Ack{Key: "key-after", PaymentID: strings.Repeat("b", 32), Amount: 1, Currency: "USD", Status: 201, Region: x.Region, At: time.Now()})
	fh, err := os.OpenFile(f.ackFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, _ = fh.Write(append(b, '\n'))
		_ = fh.Close()
	}
}

func (f *fakeLab) StartLoad(_ context.Context, ackFile, region string, oneShot bool) (loadRun, error) {
	if oneShot {
		f.record(strings.TrimSpace("load --no-retry " + region))
		return &fakeLoad{file: ackFile, region: region, acked: 10, refuse: region != "" && !f.returnedAcks}, nil
	}
	f.record(strings.TrimSpace("load " + region))
	if region == "" {
		f.mu.Lock()
		f.ackFile = ackFile
		f.mu.Unlock()
	}
	ld := &fakeLoad{file: ackFile, region: region}
	if region != "" {
		ld.acked = 10 // the driver waits on the failover URL's load only
	}
	return ld, nil
}

func (f *fakeLab) Drctl(_ context.Context, sub string, args ...string) ([]byte, error) {
	f.record(strings.Join(append([]string{sub}, args...), " "))
	if sub == "approve" {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.arcRun == nil || f.arcRun.PendingApproval == "" || args[1] != f.arcRun.ID {
			return nil, errors.New("no execution waits for approval")
		}
		f.arcRun.State, f.arcRun.PendingApproval = "inProgress", ""
		return nil, nil
	}
	// drctl reconcile --json as it prints it: one item re-applied, one
	// whose key the new Region charged already.
	return []byte(`{"from":"` + f.other + `","scanned":2,"items":[{"idempotencyKey":"key-1","outcome":"` + string(reconcile.Applied) +
		`"},{"idempotencyKey":"key-2","outcome":"` + string(reconcile.Conflict) + `"}]}`), nil
}

// StartDrctl is drctl drill: canaries first, then the move, then the
// report; region-down is expected while it runs.
func (f *fakeLab) StartDrctl(ctx context.Context, sub string, args ...string) (func() error, error) {
	f.record(strings.Join(append([]string{sub}, args...), " "))
	to, reports := args[slices.Index(args, "--to")+1], args[slices.Index(args, "--report-dir")+1]
	run := filepath.Join(reports, "run-1")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return nil, err
	}
	var canaries bytes.Buffer
	t0 := time.Now()
	for i := range 6 {
		b, _ := json.Marshal(measure.Sample{Key: fmt.Sprint(i), Start: t0, End: t0.Add(time.Millisecond), OK: true})
		canaries.Write(append(b, '\n'))
	}
	f.mu.Lock()
	f.drilling = true
	if f.resyncPolls > 0 || len(f.down) > 0 || len(f.partitioned) > 0 {
		f.t.Errorf("%s started before the lab settled", sub)
	}
	if slices.Contains(args, "--unplanned") && f.lagMs < stalledLag.Milliseconds() {
		f.t.Errorf("the unplanned drill started with the replica %dms behind, want %s", f.lagMs, stalledLag)
	}
	f.mu.Unlock()
	if err := os.WriteFile(filepath.Join(run, runlog.SamplesFile), canaries.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.drilling = false
		if slices.Contains(args, "--unplanned") && !f.down[f.writer] && !f.partitioned[f.writer] && !f.frozen[f.writer] {
			return errors.New("the unplanned drill never lost the writer's Region")
		}
		f.writer, f.other = to, f.writer
		f.stalled, f.lagMs = false, 0
		r := report.Report{Drill: &measure.Result{RTO: 1500 * time.Millisecond, RPO: 200 * time.Millisecond}}
		b, _ := json.Marshal(r)
		return os.WriteFile(filepath.Join(run, "report.json"), b, 0o644)
	}, ctx.Err()
}

// ActionJournal is the journal of the execution the fake's trigger ran.
func (f *fakeLab) ActionJournal(_ context.Context, runID string) (*runlog.Run, error) {
	return &runlog.Run{ID: runID, Kind: "failover", Values: map[string]string{dr.LagAtFailoverMsKey: "3000", dr.ReplayedCountKey: "300"}}, nil
}

func (f *fakeLab) Verify(_ context.Context, list []acks.Ack, lost map[string]bool) (verify.Report, error) {
	f.record(fmt.Sprintf("verify lost=%d", len(lost)))
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.down)+len(f.partitioned) > 0 {
		return verify.Report{Acked: len(list), Present: len(list) - len(f.missingWhileCut), Missing: f.missingWhileCut}, nil
	}
	return verify.Report{Acked: len(list), Present: len(list), Missing: f.verifyMissing}, nil
}

func testDriver(t *testing.T, lab drillLab, w *bytes.Buffer) *driver {
	return &driver{lab: lab, out: t.TempDir(), w: w, rate: 100, poll: time.Millisecond, timeout: 5 * time.Second}
}

// The driver runs each case in order, waits on the lab's conditions
// (lag after the stall, a settled lab before each move, canaries before
// the Region is lost) and summarises drctl's typed report.
func TestDrillRunsTheCasesInOrder(t *testing.T) {
	lab := newFakeLab(t)
	var out bytes.Buffer
	d := testDriver(t, lab, &out)
	if err := d.run(context.Background(), standardCases("us-east-1", "us-west-2")); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if err := d.summary(); err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(`
load
load --no-retry
drill --to us-west-2
verify lost=0
load
load --no-retry
drill --to us-east-1
verify lost=0
load
load --no-retry
fault replication-stall
drill --unplanned --to us-west-2
fault region-down us-east-1
verify lost=0
fault region-up us-east-1
reconcile --from us-east-1 --json
verify lost=2
reconcile --from us-east-1 --apply --yes --json
verify lost=0
load
load --no-retry
drill --to us-east-1
verify lost=0
load
load --no-retry
load us-east-1
fault failover-fence topology-only
fault replication-stall
drill --unplanned --to us-west-2
fault partition us-east-1
verify lost=0
fault partition-heal us-east-1
fault failover-fence best-effort
rejoin --region us-east-1 --yes --report-dir DIR/partition-us-east-1,-failover-to-us-west-2
reconcile --from us-east-1 --json
verify lost=2
reconcile --from us-east-1 --apply --yes --json
verify lost=0
load
load --no-retry
drill --to us-east-1
verify lost=0
load
load --no-retry
fault link-latency 1500ms
drill --to us-west-2
fault link-latency 0s
verify lost=0
load
load --no-retry
load us-east-1
fault journal-cut us-west-2 us-east-1
drill --to us-east-1
fault journal-restore us-west-2 us-east-1
verify lost=0
load
load --no-retry
fault replication-stall
drill --unplanned --to us-west-2
fault region-down us-east-1
verify lost=0
fault region-up --writable us-east-1
load --no-retry us-east-1
reconcile --from us-east-1 --json
verify lost=2
reconcile --from us-east-1 --apply --yes --json
verify lost=0
load
load --no-retry
fault replication-stall
drill --unplanned --to us-east-1
fault db-freeze us-west-2
verify lost=0
fault db-thaw us-west-2
load --no-retry us-west-2
fault region-up us-west-2
reconcile --from us-west-2 --json
verify lost=2
reconcile --from us-west-2 --apply --yes --json
verify lost=0
load
load --no-retry
fault clock-offset drctl -1h
fault replication-stall
drill --unplanned --to us-west-2
fault region-down us-east-1
verify lost=0
fault clock-offset drctl 0
fault region-up us-east-1
reconcile --from us-east-1 --json
verify lost=2
reconcile --from us-east-1 --apply --yes --json
verify lost=0
load
load --no-retry
drill --to us-east-1
verify lost=0
load
load --no-retry
fault arc-triggers auto
fault replication-stall
fault region-down us-east-1
verify lost=0
fault arc-triggers off
fault region-up us-east-1
reconcile --from us-east-1 --json
verify lost=2
reconcile --from us-east-1 --apply --yes --json
verify lost=0
load
load --no-retry
drill --to us-east-1
verify lost=0
load
load --no-retry
fault arc-triggers approve
fault replication-stall
fault region-down us-east-1
approve --execution lab-ID --comment make drill
verify lost=0
fault arc-triggers off
fault region-up us-east-1
reconcile --from us-east-1 --json
verify lost=2
reconcile --from us-east-1 --apply --yes --json
verify lost=0
load
load --no-retry
drill --to us-east-1
verify lost=0
`), "\n")
	var got []string
	for _, l := range lab.log {
		l = strings.SplitN(l, " --yes --interval", 2)[0]
		l = regexp.MustCompile(`--execution lab-\d+`).ReplaceAllString(l, "--execution lab-ID")
		got = append(got, strings.Replace(l, "--report-dir "+d.out+"/", "--report-dir DIR/", 1))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(d.results) != 16 || d.floor != 4*time.Second {
		t.Fatalf("results %+v floor %s", d.results, d.floor)
	}
	un := d.results[2]
	if un.RTO != 1500*time.Millisecond || un.Named != 2 || un.Reapplied != 1 || un.Conflicts != 1 || !un.OK || len(un.Reports) != 3 {
		t.Fatalf("unplanned scenario %+v", un)
	}
	// The automatic cases' RTO: from the fault (or the approval) to the
	// target's first acknowledgement through the failover URL.
	for _, i := range []int{12, 14} {
		if r := d.results[i]; r.RTO <= 0 || r.RTO > 5*time.Second || !r.OK || !r.Automatic || r.Replayed != "300" || r.LagAtFailover != "3000 ms" {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	b, err := os.ReadFile(filepath.Join(d.out, "summary.json"))
	if err != nil || !strings.Contains(string(b), `"rtoNs": 1500000000`) {
		t.Fatalf("summary.json: %v %s", err, b)
	}
}

// A violation stops the drill at that case, with the case named.
func TestDrillStopsAtAViolation(t *testing.T) {
	lab := newFakeLab(t)
	lab.verifyMissing = []string{"key-1"}
	var out bytes.Buffer
	d := testDriver(t, lab, &out)
	err := d.run(context.Background(), standardCases("us-east-1", "us-west-2"))
	if err == nil || !strings.Contains(err.Error(), "planned switchover us-east-1 -> us-west-2: verify found violations") {
		t.Fatalf("err %v", err)
	}
	if len(d.results) != 1 || d.results[0].OK {
		t.Fatalf("results %+v", d.results)
	}
}

// A condition that never holds fails with its last reason; an ended
// context ends the wait at once.
func TestDrillWaitsOnConditionsNotSleeps(t *testing.T) {
	lab := newFakeLab(t)
	lab.down["us-west-2"] = true
	var out bytes.Buffer
	d := testDriver(t, lab, &out)
	d.timeout = 50 * time.Millisecond
	if err := d.waitSettled(context.Background()); err == nil || !strings.Contains(err.Error(), "Regions down: [us-west-2]") {
		t.Fatalf("waitSettled with a Region down: %v", err)
	}
	d.timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.waitSettled(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("waitSettled after cancel: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// summary reports the writes it could not make.
func TestDrillSummaryReportsWriteErrors(t *testing.T) {
	d := &driver{out: filepath.Join(t.TempDir(), "missing", "dir"), w: failingWriter{}}
	err := d.summary()
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "summary.txt") {
		t.Fatalf("summary: %v", err)
	}
}

// An acknowledged payment the new writer lacks while the old writer's
// Region is still cut off fails the case, even when reconcile would bring
// it back later; what the isolated Region acknowledged after the cut is
// counted, and the missing among it.
func TestDrillFailsOnPaymentsMissingBeforeTheOldRegionReturns(t *testing.T) {
	lab := newFakeLab(t)
	lab.missingWhileCut = []string{"key-us-east-10"}
	var out bytes.Buffer
	d := testDriver(t, lab, &out)
	err := d.run(context.Background(), []Case{partitionCase("us-east-1", "us-west-2")})
	if err == nil || !strings.Contains(err.Error(), "1 acknowledged payments were missing from the new writer before the old Region returned (1 of them acknowledged by the isolated Region)") {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	sc := d.results[0]
	if sc.OK || sc.MissingBeforeReturn != 1 || sc.IsolatedMissing != 1 || sc.IsolatedAcked == 0 {
		t.Fatalf("scenario %+v", sc)
	}
	if !slices.Contains(lab.log, "fault partition-heal us-east-1") {
		t.Fatalf("the partition was not healed: %v", lab.log)
	}
}

// A returned old writer that acknowledges a payment to a client inside it
// fails the case, named with the count.
func TestDrillFailsWhenAReturnedOldWriterAcknowledges(t *testing.T) {
	lab := newFakeLab(t)
	lab.returnedAcks = true
	var out bytes.Buffer
	d := testDriver(t, lab, &out)
	err := d.run(context.Background(), []Case{longStallCase("us-east-1", "us-west-2")})
	if err == nil || !strings.Contains(err.Error(), "the returning old writer acknowledged 10 payments") {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if len(d.results) != 1 || d.results[0].OK || d.results[0].ReturnedAcked != 10 {
		t.Errorf("results %+v", d.results)
	}
}
