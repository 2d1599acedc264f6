package labcloud

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// daemon answers /v1/cluster with a fixed topology and records moves.
func daemon(t *testing.T, cl labapi.Cluster, moves *[]labapi.MoveRequest) *Cloud {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(cl) })
	mux.HandleFunc("POST /v1/move", func(w http.ResponseWriter, r *http.Request) {
		var m labapi.MoveRequest
		_ = json.NewDecoder(r.Body).Decode(&m)
		if m.To == cl.Writer {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"` + m.To + ` already holds the writer"}`))
			return
		}
		*moves = append(*moves, m)
		_ = json.NewEncoder(w).Encode(labapi.Move{Kind: m.Kind, To: m.To, Status: "pending"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Cloud{Dir: labdir.Dir(t.TempDir()), Lab: labdir.Lab{Environment: "dev"},
		State: labdir.State{DBPorts: map[string]int{"us-east-1": 1, "us-west-2": 2}},
		API:   &labapi.Client{Addr: strings.TrimPrefix(srv.URL, "http://")}, HTTP: srv.Client()}
}

// A move in progress is reported like RDS's FailoverState, so drctl's
// resumed run sees the move and does not request it again.
func TestGlobalClusterReportsTheMoveInProgress(t *testing.T) {
	var moves []labapi.MoveRequest
	c := daemon(t, labapi.Cluster{Writer: "us-east-1", Status: "switching-over", Members: []labapi.Member{
		{Region: "us-east-1", Writer: true, Status: "available", Reachable: true},
		{Region: "us-west-2", Status: "available", Reachable: true, ReadOnly: true, Sync: "connected", LagMs: 42},
	}, Move: &labapi.Move{Kind: "switchover", From: "us-east-1", To: "us-west-2", Status: "failing-over"}}, &moves)
	ctx := context.Background()
	g, err := c.GlobalCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Writer() != "us-east-1" || g.MovingTo() != "us-west-2" || g.Status != "switching-over" {
		t.Fatalf("cluster %+v", g)
	}
	if m, _ := g.Member("us-west-2"); m.SynchronizationStatus != "connected" || m.Instances != 1 || m.EngineVersion == "" {
		t.Fatalf("member %+v", m)
	}
	if lag, err := c.ReplicationLag(ctx, "us-west-2"); err != nil || lag != 42*time.Millisecond {
		t.Fatalf("lag %s %v", lag, err)
	}
	if _, err := c.ReplicationLag(ctx, "us-east-1"); err == nil {
		t.Fatal("the writer reported a lag")
	}
	if err := c.Switchover(ctx, "us-east-1"); err == nil || !strings.Contains(err.Error(), "already holds the writer") {
		t.Fatalf("switchover to the writer: %v", err)
	}
	if err := c.Failover(ctx, "us-west-2", true); err != nil || len(moves) != 1 || !moves[0].AllowDataLoss || moves[0].Kind != "failover" {
		t.Fatalf("failover request %v %+v", err, moves)
	}
}

// Like awsops (DescribeGlobalClusters' IsWriter), the lab answers from
// the topology only: an old primary left writable (failover-fence
// topology-only, a frozen or partitioned database) counts as fenced, as
// it would on AWS; the journal's writer record keeps its service out.
func TestOldPrimaryFencedFromTheTopologyOnly(t *testing.T) {
	var moves []labapi.MoveRequest
	c := daemon(t, labapi.Cluster{Writer: "us-west-2", Status: "available", Members: []labapi.Member{
		{Region: "us-east-1", Status: "available", Reachable: true, LagMs: -1, Diverged: true},
		{Region: "us-west-2", Writer: true, Status: "available", Reachable: true},
	}}, &moves)
	ctx := context.Background()
	if ok, err := c.OldPrimaryFenced(ctx, "us-east-1"); err != nil || !ok {
		t.Fatalf("an old primary the topology no longer names the writer, its database writable, is fenced: %v %v", ok, err)
	}
	if ok, err := c.OldPrimaryFenced(ctx, "us-west-2"); err != nil || ok {
		t.Fatalf("the writable writer is not fenced: %v %v", ok, err)
	}
	if _, err := c.ReplicationLag(ctx, "us-east-1"); err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("lag of a diverged old primary: %v", err)
	}
}
