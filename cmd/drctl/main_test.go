package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/dr/cli"
	"github.com/payment-dr/payment-dr/internal/lab/frontdoor"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// fakeLab is a DR lab without databases: a daemon answering the control
// API (moves complete shortly after they are accepted, as the daemon's
// do), a payment service per Region whose /health follows the writer,
// and the real Route 53 stand-in (health checks, front door and
// authoritative DNS) in front of them.
type fakeLab struct {
	dir    labdir.Dir
	door   *frontdoor.Door
	mu     sync.Mutex
	writer string
	move   *labapi.Move
	moves  []labapi.MoveRequest
}

const env, domain = "dev", "example.com"

func startFakeLab(t *testing.T) *fakeLab {
	t.Helper()
	l := &fakeLab{dir: labdir.Dir(t.TempDir()), writer: "us-east-1"}
	lab := labdir.Lab{Environment: env, APIKey: "lab-key", Regions: map[string]labdir.Region{}}
	st := labdir.State{Primary: "us-east-1", Secondary: "us-west-2", FailoverName: naming.New(env, domain).APIHost(),
		DBPorts: map[string]int{"us-east-1": 13306, "us-west-2": 23306}, JournalEndpoints: map[string]string{}}
	// The journal's writer record lives in dynalite, in the table the
	// environment names (each move reads its epoch before it writes one).
	ddb := backends.Env(t, backends.EnvDynamoDBEndpoint)
	if err := backends.CreateJournalTable(context.Background(), backends.DynamoDB(ddb, "us-east-1"), naming.New(env, domain).JournalTable()); err != nil {
		t.Fatal(err)
	}
	var targets []frontdoor.Target
	for _, r := range []string{"us-east-1", "us-west-2"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { l.health(w, r) }))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		targets = append(targets, frontdoor.Target{Region: r, URL: u})
		lab.Regions[r] = labdir.Region{APIURL: srv.URL}
		st.JournalEndpoints[r] = ddb
		st.DynamoEndpoint = srv.URL // answers HTTP, as dynalite does
	}
	l.door = frontdoor.New(targets[0], targets[1], frontdoor.Options{Interval: 20 * time.Millisecond, Threshold: 1, TTL: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l.door.CheckNow(ctx)
	go l.door.Run(ctx)
	front := httptest.NewServer(l.door)
	t.Cleanup(front.Close)
	lab.FailoverURL = front.URL
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dnsSrv := &dns.Server{PacketConn: pc, Handler: &frontdoor.DNS{Name: dns.Fqdn(st.FailoverName), Door: l.door, TTL: 50 * time.Millisecond}}
	go func() { _ = dnsSrv.ActivateAndServe() }()
	t.Cleanup(func() { _ = dnsSrv.Shutdown() })
	st.DNS = pc.LocalAddr().String()
	daemon := httptest.NewServer(l.api())
	t.Cleanup(daemon.Close)
	st.Control = strings.TrimPrefix(daemon.URL, "http://")
	if err := errors.Join(l.dir.WriteJSON("lab.json", lab), l.dir.WriteJSON("state.json", st)); err != nil {
		t.Fatal(err)
	}
	return l
}

// health is region's /health: writable (200) only where the writer is.
func (l *fakeLab) health(w http.ResponseWriter, region string) {
	l.mu.Lock()
	writable := l.writer == region
	l.mu.Unlock()
	status, code := "ok", http.StatusOK
	if !writable {
		status, code = "read-only", http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"region": region, "dbWritable": writable, "tableReachable": true, "status": status})
}

func (l *fakeLab) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+labapi.PathCluster, func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(l.cluster()) })
	mux.HandleFunc("GET "+labapi.PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		s := labapi.Status{Cluster: l.cluster(), Checks: map[string]labapi.Check{},
			Services: map[string]labapi.Service{"us-east-1": {Running: true}, "us-west-2": {Running: true}}}
		for r, c := range l.door.State() {
			s.Checks[r] = labapi.Check{Healthy: c.Healthy, LastStatus: c.LastStatus, LastCheck: c.LastCheck}
		}
		_ = json.NewEncoder(w).Encode(s)
	})
	mux.HandleFunc("POST "+labapi.PathMove, func(w http.ResponseWriter, r *http.Request) {
		var req labapi.MoveRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(labapi.ErrorResponse{Error: err.Error()})
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if req.To == l.writer || l.move != nil {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(labapi.ErrorResponse{Error: req.To + " already holds the writer or a move is under way"})
			return
		}
		l.moves = append(l.moves, req)
		l.move = &labapi.Move{Kind: req.Kind, From: l.writer, To: req.To, Status: labapi.MovePending, Requested: time.Now()}
		_ = json.NewEncoder(w).Encode(l.move)
		time.AfterFunc(100*time.Millisecond, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.writer, l.move = req.To, nil
		})
	})
	return mux
}

func (l *fakeLab) cluster() labapi.Cluster {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl := labapi.Cluster{Writer: l.writer, Status: labapi.Available, Move: l.move}
	if l.move != nil {
		cl.Status = labapi.SwitchingOver
	}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		m := labapi.Member{Region: r, Writer: r == l.writer, Reachable: true, ReadOnly: r != l.writer, Status: labapi.Available}
		if !m.Writer {
			m.Sync, m.LagMs = labapi.SyncConnected, 5
		}
		cl.Members = append(cl.Members, m)
	}
	return cl
}

func writeConfig(t *testing.T) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"environment": env, "domainName": domain, "alarmEmail": "a@example.com"})
	p := filepath.Join(t.TempDir(), "env.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// drctl runs the command line as main does, with main's choice of cloud.
func drctl(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Main(args, cli.Deps{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Connect: connect})
	return code, out.String(), errb.String()
}

// --lab DIR acts on the lab: status reads its cluster and health checks,
// and a switchover moves its writer, writes its parameters in both
// Regions and waits for its DNS and front door to follow.
func TestSwitchoverThroughTheLab(t *testing.T) {
	l := startFakeLab(t)
	cfg := writeConfig(t)
	code, out, errOut := drctl("status", "--lab", string(l.dir), "-config", cfg, "--json")
	var st struct {
		Primary string
		Regions []struct {
			Region             string
			HealthCheckHealthy *bool
		}
	}
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || st.Primary != "us-east-1" || len(st.Regions) != 2 ||
		st.Regions[0].HealthCheckHealthy == nil || !*st.Regions[0].HealthCheckHealthy {
		t.Fatalf("status: %d %v\n%s\n%s", code, err, out, errOut)
	}

	reports := t.TempDir()
	code, out, errOut = drctl("switchover", "--lab", string(l.dir), "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", reports)
	if code != 0 {
		t.Fatalf("switchover: %d\n%s\n%s", code, out, errOut)
	}
	l.mu.Lock()
	writer, moves := l.writer, len(l.moves)
	l.mu.Unlock()
	if writer != "us-west-2" || moves != 1 {
		t.Errorf("writer %s after %d move requests", writer, moves)
	}
	n := naming.New(env, domain)
	for _, r := range []string{"us-east-1", "us-west-2"} {
		active, _, err := l.dir.Parameter(r, n.ActiveRegionParam())
		endpoint, _, err2 := l.dir.Parameter(r, n.WriterEndpointParam())
		if err != nil || err2 != nil || active != "us-west-2" || endpoint != "127.0.0.1:23306" {
			t.Errorf("parameters in %s: %q %q %v %v", r, active, endpoint, err, err2)
		}
	}
	if got := l.door.Answer(); got != "us-west-2" {
		t.Errorf("DNS answers %s", got)
	}
	if m, _ := filepath.Glob(filepath.Join(reports, "switchover-*", "report.json")); len(m) != 1 {
		t.Errorf("no report written under %s", reports)
	}
}

// --lab on a directory with no lab fails on every subcommand naming the
// flag and the fix, and never falls through to AWS.
func TestLabFlagWithoutALabFailsBeforeAnythingMoves(t *testing.T) {
	cfg := writeConfig(t)
	for _, args := range [][]string{
		{"status"}, {"evaluate"}, {"switchover", "--to", "us-west-2", "--yes"}, {"failover", "--to", "us-west-2", "--yes"},
		{"failback", "--yes"}, {"drill", "--yes"}, {"reconcile", "--from", "us-east-1"},
	} {
		dir := t.TempDir()
		code, _, errOut := drctl(append(args, "-config", cfg, "--lab", dir)...)
		if code != 1 || !strings.Contains(errOut, "--lab "+dir+": ") || !strings.Contains(errOut, "drlab up --dir DIR") {
			t.Errorf("%v: %d %q", args, code, errOut)
		}
	}
}
