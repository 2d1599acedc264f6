package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr"
	drreport "github.com/payment-dr/payment-dr/internal/dr/report"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labcloud"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// partitionReplay: the writer's Region is partitioned, for
// real (its replication link and its journal member's peer links cut in
// Toxiproxy), with replication stalled and a client inside it. The
// isolated Region acknowledges nothing from then on; the payments it
// acknowledged before, which the stalled replica lacks, are exactly the
// ones the failover's replay of the journal completes in the new writer,
// key for key, before the old Region returns.
func partitionReplay(l *lab) {
	// settle is how long after the cut an answer whose claim was durable
	// before it may still arrive: the journal's timeout (1 s) and the
	// database commit on 2 busy cores.
	const settle = 2 * time.Second
	t := l.t
	old := l.status().Cluster.Writer
	target := map[string]string{"us-east-1": "us-west-2", "us-west-2": "us-east-1"}[old]
	l.resyncIfDiverged(target)
	start := time.Now()
	dir := t.TempDir()
	outside, inside := filepath.Join(dir, "acks.jsonl"), filepath.Join(dir, "acks-inside.jsonl")
	t.Cleanup(func() {
		if t.Failed() {
			keep(t, "acks", dir)
		}
	})
	wait := l.load(50, 8*time.Second, outside)
	stopInside := l.loadInside(old, 25, inside)
	time.Sleep(2 * time.Second)
	l.must(l.drlab("fault", "--dir", l.dir, "replication-stall"))
	time.Sleep(2 * time.Second)
	l.must(l.drlab("fault", "--dir", l.dir, "partition", old))
	cut := time.Now()
	// /health trusts a claim younger than MajorityEvidenceMaxAge, then
	// reads the journal (JournalProbeTimeout): past both, it says 503.
	for healthBy := cut.Add(payments.MajorityEvidenceMaxAge + payments.JournalProbeTimeout + time.Second); ; time.Sleep(100 * time.Millisecond) {
		h := l.status().Services[old]
		if h.Health == 503 && strings.Contains(h.HealthBody, "journal") {
			break
		}
		if time.Now().After(healthBy) {
			t.Fatalf("the partitioned Region's /health %s after the cut: %d %s", time.Since(cut).Round(time.Millisecond), h.Health, h.HealthBody)
		}
	}
	// An answer already on its way when the links were cut (its claim
	// was durable in a majority before) may arrive a little later: it is
	// counted with the others the replay must bring to the new writer.
	// Nothing is acknowledged after that.
	time.Sleep(settle)
	had := l.keysIn(target)
	reports := t.TempDir()
	l.must(l.drctl("failover", "--to", target, "--allow-data-loss", "--yes", "--report-dir", reports))
	replayed := l.drctlReplayed(reports)
	// A replay of the same window now finds every claimed payment present.
	if again := l.replay(target, start.Add(-time.Minute), time.Now()); len(again) != 0 {
		t.Fatalf("a second replay completed %d more payments: %v", len(again), again)
	}
	stopInside()
	wait()
	all := append(l.acks(outside), l.acks(inside)...)
	// What the databases say, before the old Region returns: the isolated
	// Region committed no payment begun after the cut (a commit follows
	// a claim, which needs a majority), and the new writer holds every
	// acknowledged payment.
	if after := l.createdAfter(old, cut); len(after) != 0 {
		t.Errorf("the isolated Region committed %d payments begun after the cut: %v", len(after), after)
	}
	if missing := l.missingIn(target, all); len(missing) != 0 {
		t.Fatalf("before the old Region returns, %d acknowledged payments are missing from the new writer: %v", len(missing), missing)
	}
	writer := l.keysIn(target)
	late := 0
	for _, a := range all {
		switch {
		case a.Region != old || !a.At.After(cut):
		case writer[a.Key] == target:
			// The new writer created it: the answer did not come from the
			// isolated Region's own service and database.
			t.Logf("%s, sent to %s at %s (attempt %d, status %d), was created by %s", a.Key, old, a.Sent.Format(time.RFC3339Nano), a.Attempts, a.Status, target)
		case a.At.After(cut.Add(settle)):
			t.Errorf("the isolated Region acknowledged %s at %s, %s after the partition (status %d, attempt %d sent at %s)",
				a.Key, a.At.Format(time.RFC3339Nano), a.At.Sub(cut), a.Status, a.Attempts, a.Sent.Format(time.RFC3339Nano))
		default:
			late++
		}
	}
	lacked := checkReplay(t, old, had, writer, replayed, all)
	// Heal, then rejoin with drctl alone: the lab's Aurora rebuilds the
	// diverged old writer once its Region is reachable (no region-up), and
	// rejoin waits for it, fenced meanwhile.
	l.must(l.drlab("fault", "--dir", l.dir, "partition-heal", old))
	healed := time.Now()
	l.must(l.drctl("rejoin", "--region", old, "--yes", "--report-dir", t.TempDir()))
	rejoined := time.Since(healed)
	if m := member(l.status(), old); !m.ReadOnly || m.Writer || m.Sync != labapi.SyncConnected {
		t.Errorf("%s after rejoin: %+v", old, m)
	}
	for _, f := range []string{outside, inside} {
		if v := l.verify(f, ""); !v.OK || v.Writer != target {
			t.Fatalf("verify %s after the partition healed: %+v", filepath.Base(f), v)
		}
	}
	t.Logf("partition: %d acknowledged payments lacked by the stalled replica, all replayed; %d answers on their way at the cut, none acknowledged by the isolated Region after %s; rejoin after the heal took %s",
		len(lacked), late, settle, rejoined.Round(100*time.Millisecond))
}

// checkReplay: the payments the replay completed in the new writer are,
// key for key, those the old writer (old) acknowledged that the new one
// lacked (had is its keys before the move, writer after it, each with the
// Region that created the payment); any other key it completed
// was claimed in the old Region with its answer lost, then acknowledged
// by the new writer to the client's retry, or never acknowledged at all.
func checkReplay(t *testing.T, old string, had, writer map[string]string, replayed []string, list []acks.Ack) []string {
	t.Helper()
	byKey := map[string]acks.Ack{}
	var lacked []string
	for _, a := range list {
		byKey[a.Key] = a
		if _, held := had[a.Key]; a.Region == old && !held && writer[a.Key] == old {
			lacked = append(lacked, a.Key)
		}
	}
	sort.Strings(lacked)
	var ackedByOld []string
	for _, k := range replayed {
		a, acked := byKey[k]
		switch {
		case acked && a.Region == old:
			ackedByOld = append(ackedByOld, k)
		case acked && a.Attempts < 2:
			t.Errorf("replayed %s, which the new writer acknowledged at its first attempt", k)
		}
	}
	if len(lacked) == 0 {
		t.Fatal("the new writer lacked no acknowledged payment: the test would prove nothing")
	}
	if strings.Join(ackedByOld, " ") != strings.Join(lacked, " ") {
		t.Errorf("the replay completed %d payments %s acknowledged, the new writer lacked %d:\n replayed %v\n lacked   %v",
			len(ackedByOld), old, len(lacked), ackedByOld, lacked)
	}
	return lacked
}

// keysIn maps the idempotency keys of region's payments to the Region
// that created each (the payments' region column).
func (l *lab) keysIn(region string) map[string]string {
	l.t.Helper()
	return l.queryKeys(region, "SELECT idempotency_key, region FROM payments")
}

// createdAfter maps the keys of the payments region's database committed
// with a creation time after at (the service's clock) to that time.
func (l *lab) createdAfter(region string, at time.Time) map[string]string {
	l.t.Helper()
	return l.queryKeys(region, "SELECT idempotency_key, CAST(created_at AS CHAR) FROM payments WHERE created_at > ?",
		at.UTC().Format("2006-01-02 15:04:05.000000"))
}

func (l *lab) queryKeys(region, query string, args ...any) map[string]string {
	l.t.Helper()
	db := l.adminDB(region)
	defer db.Close()
	rows, err := db.Query(query, args...)
	if err != nil {
		l.t.Fatal(err)
	}
	defer rows.Close()
	keys := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			l.t.Fatal(err)
		}
		keys[k] = v
	}
	if err := rows.Err(); err != nil {
		l.t.Fatal(err)
	}
	return keys
}

// resyncIfDiverged rebuilds region if an unplanned failover left it
// diverged, and waits until it replicates again.
func (l *lab) resyncIfDiverged(region string) {
	for _, m := range l.status().Cluster.Members {
		if m.Region == region && m.Sync == labapi.SyncPendingResync {
			l.must(l.drlab("fault", "--dir", l.dir, "region-up", region))
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st := l.status()
		ok := true
		for _, m := range st.Cluster.Members {
			ok = ok && (m.Writer || m.Sync == labapi.SyncConnected && m.LagMs >= 0 && m.LagMs < 2000)
		}
		if ok && len(st.Partitioned) == 0 && st.Services[st.Cluster.Writer].Health == 200 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("the lab did not settle: %+v", st.Cluster)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// loadInside runs drlab load --region (a client inside the Region);
// stop ends it (SIGTERM) and waits, whatever its payments' state.
func (l *lab) loadInside(region string, rate int, out string) (stop func()) {
	cmd := exec.Command(filepath.Join(l.bin, "drlab"), "load", "--dir", l.dir, "--region", region, "--rate", strconv.Itoa(rate),
		"--duration", "1h", "--out", out)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	t := l.t
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			t.Logf("load inside %s: %s", region, lastLine(buf.String()))
		})
	}
	t.Cleanup(stop) // also when the test fails before it stops the client
	return stop
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func (l *lab) acks(file string) []acks.Ack {
	l.t.Helper()
	list, err := acks.ParseFile(file)
	if err != nil {
		l.t.Fatal(err)
	}
	return list
}

// missingIn lists, sorted, the acknowledged keys region's database does
// not hold with the acknowledged payment id (verify's rule).
func (l *lab) missingIn(region string, list []acks.Ack) []string {
	l.t.Helper()
	db := l.adminDB(region)
	defer db.Close()
	rep, err := verify.Run(context.Background(), db, list, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	missing := append([]string{}, rep.Missing...)
	sort.Strings(missing)
	return missing
}

// drctlReplayed reads the keys drctl's replay-journal step completed from
// the run's report, sorted.
func (l *lab) drctlReplayed(reports string) []string {
	l.t.Helper()
	files, err := filepath.Glob(filepath.Join(reports, "*", "report.json"))
	if err != nil || len(files) != 1 {
		l.t.Fatalf("drctl's report in %s: %v %v", reports, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		l.t.Fatal(err)
	}
	var r drreport.Report
	if err := json.Unmarshal(b, &r); err != nil {
		l.t.Fatal(err)
	}
	keys := []string{}
	for _, kv := range strings.Fields(r.Values[dr.ReplayedKeysKey]) {
		k, _, _ := strings.Cut(kv, "=")
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			l.t.Fatalf("replayed key %q: %v", kv, err)
		}
		keys = append(keys, string(raw))
	}
	sort.Strings(keys)
	l.t.Logf("drctl's replay-journal: %s (window %s)", r.Values[dr.ReplayedCountKey], r.Values[dr.ReplayWindowKey])
	return keys
}

// replay asks region's service to replay the journal over [from, to]
// (labcloud, as drctl does) and returns the replayed keys, sorted.
func (l *lab) replay(region string, from, to time.Time) []string {
	l.t.Helper()
	c, err := labcloud.Open(l.dir)
	if err != nil {
		l.t.Fatal(err)
	}
	keys := []string{}
	for {
		// An incomplete answer (page full or time up) is asked again, as
		// drctl does.
		res, err := c.ReplayJournal(context.Background(), region, from, to)
		if err != nil {
			l.t.Fatalf("replaying the journal in %s: %v", region, err)
		}
		for _, k := range res.Replayed {
			keys = append(keys, string(k.Key))
		}
		l.t.Logf("replay in %s: %d replayed, %d present, %d released, incomplete %v", region, len(res.Replayed), res.Present, res.Released, res.Incomplete)
		if !res.Incomplete {
			break
		}
	}
	sort.Strings(keys)
	return keys
}

// witnessDown: with the journal's witness cut off the writer still claims
// through the other Region (two of three members); with the other Region
// partitioned as well it reaches no majority and acknowledges nothing,
// and none of its "not applied" answers hides a payment (one-shot
// clients, verify's phantom check).
func witnessDown(l *lab) {
	t := l.t
	writer := l.status().Cluster.Writer
	other := map[string]string{"us-east-1": "us-west-2", "us-west-2": "us-east-1"}[writer]
	dir := t.TempDir()
	l.must(l.drlab("fault", "--dir", l.dir, "witness-down"))
	if !l.status().WitnessDown {
		t.Fatal("status does not report the witness down")
	}
	withOther := filepath.Join(dir, "witness-down.jsonl")
	l.load(20, 3*time.Second, withOther, "--no-retry")()
	first := l.verify(withOther, "")
	if !first.OK || first.Acked == 0 {
		t.Fatalf("witness down, both Regions up: %+v", first)
	}
	l.must(l.drlab("fault", "--dir", l.dir, "partition", other))
	time.Sleep(2 * time.Second) // answers on their way at the cut arrive
	alone := filepath.Join(dir, "writer-alone.jsonl")
	l.load(10, 3*time.Second, alone, "--no-retry")()
	answers, err := acks.ParseFile(alone)
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for _, a := range answers {
		if a.Acknowledged() {
			acked++
		}
	}
	if len(answers) == 0 || acked != 0 {
		t.Errorf("the writer alone (witness down, %s partitioned) acknowledged %d of %d payments", other, acked, len(answers))
	}
	l.must(l.drlab("fault", "--dir", l.dir, "partition-heal", other))
	l.must(l.drlab("fault", "--dir", l.dir, "witness-up"))
	for _, f := range []string{withOther, alone} {
		if v := l.verify(f, ""); !v.OK || len(v.Phantoms) != 0 {
			t.Fatalf("verify %s once the witness is back: %+v", filepath.Base(f), v)
		}
	}
	t.Logf("witness down: %d payments acknowledged with both Regions up; with %s partitioned too, 0 of %d", first.Acked, other, len(answers))
}
