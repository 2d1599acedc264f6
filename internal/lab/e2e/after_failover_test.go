package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// member returns region's member of the lab's cluster view.
func member(s labapi.Status, region string) labapi.Member {
	for _, m := range s.Cluster.Members {
		if m.Region == region {
			return m
		}
	}
	return labapi.Member{}
}

// switchoverIntoFencedRegion follows heldLockFailover, an unplanned
// failover back to the primary that fenced the secondary's payment
// service: once the secondary is resynchronised, a switchover to it lifts
// the fence before verify-writes and completes. With the link slowed, the
// old writer has not caught up for a while after the writer moved; the
// run (its last step, wait-standby-sync) must end only after that.
func switchoverIntoFencedRegion(l *lab) {
	t := l.t
	if s := l.status(); s.Cluster.Writer != "us-east-1" || !s.Services["us-west-2"].Fenced {
		t.Fatalf("not the state heldLockFailover leaves: writer %s, us-west-2 fenced %v", s.Cluster.Writer, s.Services["us-west-2"].Fenced)
	}
	l.must(l.drlab("fault", "--dir", l.dir, "region-up", "us-west-2")) // resynchronise the diverged old writer
	if s := l.status(); member(s, "us-west-2").Sync != labapi.SyncConnected || !s.Services["us-west-2"].Fenced || s.Services["us-west-2"].Health != 500 {
		t.Fatalf("us-west-2 resynchronised and fenced: %+v %+v", member(s, "us-west-2"), s.Services["us-west-2"])
	}
	l.must(l.drlab("fault", "--dir", l.dir, "link-latency", "1200ms"))
	defer l.drlab("fault", "--dir", l.dir, "link-latency", "0s")
	st, err := labdir.Dir(l.dir).ReadState()
	if err != nil {
		t.Fatal(err)
	}
	api := &labapi.Client{Addr: st.Control}
	ctx, stop := context.WithCancel(context.Background())
	var lastPending time.Time
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			c, err := api.Cluster(ctx)
			for _, m := range c.Members {
				if err == nil && c.Writer == "us-west-2" && m.Region == "us-east-1" && m.Sync != labapi.SyncConnected {
					lastPending = time.Now()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	reports := t.TempDir()
	out, err := l.drctl("switchover", "--to", "us-west-2", "--yes", "--report-dir", reports)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("switchover into the Region an earlier failover fenced: %v\n%s", err, out)
	}
	j, _ := readJournal(reports)
	var names []string
	var waited time.Time
	for _, s := range j.Steps {
		names = append(names, s.Name)
		if s.Name == "wait-standby-sync" {
			waited = s.Ended
		}
	}
	if !j.Completed || !strings.Contains(strings.Join(names, ","), "wait-topology,set-writer-epoch,lift-fence,verify-writes,update-parameters,verify-dns,wait-standby-sync") {
		t.Fatalf("journal %+v", j)
	}
	if lastPending.IsZero() {
		t.Fatal("the old writer was never seen not caught up after the move: the test shows nothing")
	}
	if !waited.After(lastPending) {
		t.Errorf("wait-standby-sync ended at %s, before the old writer caught up (still pending at %s)", waited.Format(time.StampMilli), lastPending.Format(time.StampMilli))
	}
	if s := l.status(); s.Cluster.Writer != "us-west-2" || s.Services["us-west-2"].Fenced || s.Services["us-west-2"].Health != 200 {
		t.Fatalf("after the switchover: writer %s, us-west-2 %+v", s.Cluster.Writer, s.Services["us-west-2"])
	}
}

// rejoinWritableOldPrimary: an unplanned failover fences the old writer
// (it still answers), its Region is then lost and comes back with its
// database writable (Aurora's fence failed). Clients of the failover URL
// get no acknowledgement from it before or after drctl rejoin, which
// ends with it a caught-up replica whose fence was lifted.
func rejoinWritableOldPrimary(l *lab) {
	t := l.t
	const old, writer = "us-west-2", "us-east-1"
	acksFile := filepath.Join(t.TempDir(), "acks.jsonl")
	wait := l.load(50, 40*time.Second, acksFile)
	time.Sleep(time.Second)
	l.must(l.drlab("fault", "--dir", l.dir, "replication-stall"))
	time.Sleep(time.Second)
	l.must(l.drctl("failover", "--to", writer, "--allow-data-loss", "--yes", "--report-dir", t.TempDir()))
	failedOver := time.Now()
	l.must(l.drlab("fault", "--dir", l.dir, "region-down", old))
	l.must(l.drlab("fault", "--dir", l.dir, "region-up", "--writable", old))
	s := l.status()
	if m := member(s, old); m.ReadOnly || m.Writer || !s.Services[old].Fenced || s.Services[old].Health != 500 {
		t.Fatalf("%s back writable and fenced: %+v %+v", old, m, s.Services[old])
	}
	out, _ := l.drctl("evaluate") // findings exit 1
	if !strings.Contains(out, "drctl rejoin --region "+old) {
		t.Errorf("evaluate does not name rejoin:\n%s", out)
	}
	out = l.must(l.drctl("rejoin", "--region", old, "--yes", "--report-dir", t.TempDir()))
	for _, want := range []string{"fence-service", "confirm-fenced", "wait-caught-up", "compare-data", "lift-fence", "fence-" + old + ": lifted", "oldPrimaryOnly"} {
		if !strings.Contains(out, want) {
			t.Errorf("rejoin output lacks %q:\n%s", want, out)
		}
	}
	s = l.status()
	if m := member(s, old); !m.ReadOnly || m.Writer || m.Sync != labapi.SyncConnected || s.Services[old].Fenced {
		t.Errorf("%s after rejoin: %+v %+v", old, m, s.Services[old])
	}
	wait()
	all, err := acks.ParseFile(acksFile)
	if err != nil {
		t.Fatal(err)
	}
	fromOld, after := 0, 0
	for _, a := range all {
		if a.At.After(failedOver) {
			after++
			if a.Region == old {
				fromOld++
			}
		}
	}
	if after == 0 || fromOld != 0 {
		t.Errorf("after the failover: %d acknowledgements, %d of them from %s", after, fromOld, old)
	}
	t.Logf("after the failover: %d acknowledgements, %d from %s", after, fromOld, old)
}
