// Package mrsc is the lab's stand-in for a DynamoDB global table with
// multi-Region strong consistency (MRSC): per Region an HTTP endpoint that
// answers the DynamoDB JSON 1.0 operations the payment journal uses, over
// an embedded etcd cluster with one member per Region plus the witness.
//
// The majority rule is etcd's Raft, not a protocol written here: a write
// is an etcd transaction, a strongly consistent read a linearizable read,
// so both need a majority of the three members. The members' peer traffic
// crosses the lab's Toxiproxy links (package link), one proxy per ordered
// pair of members, so a cut link cuts consensus and a link's latency is
// what a write pays.
//
// Like DynamoDB, an endpoint refuses writes to one partition key beyond
// 1,000 write units a second (partition.go), so a hot key throttles in
// the lab as it would on AWS.
package mrsc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc"
	"go.etcd.io/etcd/server/v3/proxy/grpcproxy/adapter"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// clusterToken names the lab's etcd cluster (it seeds the member ids).
const clusterToken = "payment-journal-lab"

// Options configure a cluster.
type Options struct {
	Dir     string   // each member's data directory goes under it
	Regions []string // the table's replica Regions
	Witness string   // the witness member's name (a Region with no replica)
	// RegionLatency is the one-way latency between two Regions,
	// WitnessLatency between a Region and the witness.
	RegionLatency, WitnessLatency time.Duration
	// WitnessLatencyOf overrides WitnessLatency for a Region: on AWS the
	// witness is nearer one replica than the other (us-east-2 is about
	// 12 ms from us-east-1 and 50 ms from us-west-2, round trip).
	WitnessLatencyOf map[string]time.Duration
	// OpTimeout bounds a write or strongly consistent read: a member
	// without a majority fails it after this long.
	OpTimeout time.Duration
	Log       io.Writer // Toxiproxy's and etcd's logs (etcd's go to files in Dir)
	// Now is the clock of the partitions' write limit (default time.Now;
	// a test stops it to put a burst within one second).
	Now func() time.Time
}

// Cluster is the running etcd cluster, its links and its Regions'
// endpoints.
type Cluster struct {
	opt     Options
	members map[string]*member
	peers   *peerLinks
	clients map[string]clientv3.KV // by Region, each to its own member only
	// partitions is the per-partition write limit every endpoint shares.
	partitions *partitionWrites
	// regionLatency is the Regions' link latency now (SetRegionLatency).
	regionLatency atomic.Int64
}

type member struct {
	name                   string
	peerURL, advertisedURL string // etcd's own peer listener; the router the others dial
	clientURL              string
	router                 net.Listener // advertisedURL's listener until the router serves it
	id                     types.ID
	etcd                   *embed.Etcd
}

// Start starts the members and waits until the cluster has a leader.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	if len(opt.Regions) != 2 || opt.Witness == "" {
		return nil, fmt.Errorf("mrsc: want two Regions and a witness, got %v and %q", opt.Regions, opt.Witness)
	}
	if opt.OpTimeout <= 0 {
		opt.OpTimeout = time.Second
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	for attempt := 1; ; attempt++ {
		c := &Cluster{opt: opt, members: map[string]*member{}, clients: map[string]clientv3.KV{}, partitions: newPartitionWrites(opt.Now)}
		c.regionLatency.Store(int64(opt.RegionLatency))
		err := c.start(ctx)
		if err == nil {
			return c, nil
		}
		c.Close()
		if attempt == startAttempts || !portTaken(err) {
			return nil, err
		}
		// Another process bound a port between its pick and etcd's bind:
		// a fresh start with new ports (the failed members' data, made
		// for the old member ids, goes).
		for _, n := range c.names() {
			if rerr := os.RemoveAll(filepath.Join(opt.Dir, n)); rerr != nil {
				return nil, errors.Join(err, rerr)
			}
		}
		fmt.Fprintf(opt.Log, "mrsc: start attempt %d: %v; starting again on other ports\n", attempt, err)
	}
}

// startAttempts bounds the starts of a cluster whose port another process
// took meanwhile (etcd binds the ports it is given itself).
const startAttempts = 3

func portTaken(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// witnessLatency is the one-way latency between region and the witness.
func (c *Cluster) witnessLatency(region string) time.Duration {
	if d, ok := c.opt.WitnessLatencyOf[region]; ok {
		return d
	}
	return c.opt.WitnessLatency
}

func (c *Cluster) names() []string {
	return append(append([]string{}, c.opt.Regions...), c.opt.Witness)
}

func (c *Cluster) start(ctx context.Context) error {
	if err := c.allocate(); err != nil {
		return err
	}
	var err error
	if c.peers, err = startPeerLinks(c.members, c.opt.Witness, c.opt.RegionLatency, c.witnessLatency, c.opt.Log); err != nil {
		return err
	}
	initial := ""
	for _, n := range c.names() {
		if initial != "" {
			initial += ","
		}
		initial += n + "=" + c.members[n].advertisedURL
	}
	for _, n := range c.names() {
		if err := c.startMember(c.members[n], initial); err != nil {
			return err
		}
	}
	for _, n := range c.names() {
		select {
		case <-c.members[n].etcd.Server.ReadyNotify():
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return fmt.Errorf("mrsc: member %s did not join a majority within 30s; see %s", n, c.logPath(n))
		}
		if got := c.members[n].etcd.Server.MemberID(); got != c.members[n].id {
			return fmt.Errorf("mrsc: member %s has id %s, the links expect %s", n, got, c.members[n].id)
		}
	}
	for _, r := range c.opt.Regions {
		c.clients[r] = localKV(c.members[r].etcd)
	}
	return nil
}

// allocate picks every member's loopback ports and computes the member
// ids etcd will use, which the peer routers need before the first message.
func (c *Cluster) allocate() error {
	for _, n := range c.names() {
		var ports [2]int
		for i := range ports {
			p, err := proc.FreePort()
			if err != nil {
				return fmt.Errorf("mrsc: no free port for %s: %w", n, err)
			}
			ports[i] = p
		}
		// The router's listener is held from here on: every member dials it.
		router, err := proc.ListenLoopback()
		if err != nil {
			return fmt.Errorf("mrsc: no free port for %s's router: %w", n, err)
		}
		m := &member{name: n, peerURL: loopURL(ports[0]), advertisedURL: "http://" + router.Addr().String(), clientURL: loopURL(ports[1]), router: router}
		u, err := types.NewURLs([]string{m.advertisedURL})
		if err != nil {
			return err
		}
		m.id = membership.NewMember(n, u, clusterToken, nil).ID
		c.members[n] = m
	}
	return nil
}

// startEtcd starts a member (a variable for the test that takes its port
// first).
var startEtcd = embed.StartEtcd

func loopURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

func (c *Cluster) logPath(name string) string { return filepath.Join(c.opt.Dir, "etcd-"+name+".log") }

// startMember starts one embedded etcd member with etcd's default
// heartbeat and election (100 ms, 1 s: shorter ones made elections and
// leader transfers fail on 2 cores shared with the rest of the lab); the
// lab fsyncs nothing (it kills processes, not machines; the OS page cache
// survives them) and logs errors only (etcd's slow-request warnings cost
// CPU the lab does not have).
func (c *Cluster) startMember(m *member, initial string) error {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = filepath.Join(c.opt.Dir, m.name)
	if err := os.MkdirAll(c.opt.Dir, 0o700); err != nil {
		return err
	}
	cfg.ListenPeerUrls = []url.URL{mustURL(m.peerURL)}
	cfg.AdvertisePeerUrls = []url.URL{mustURL(m.advertisedURL)}
	cfg.ListenClientUrls = []url.URL{mustURL(m.clientURL)}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.InitialCluster = initial
	cfg.InitialClusterToken = clusterToken
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.TickMs, cfg.ElectionMs = 100, 1000
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{c.logPath(m.name)}
	e, err := startEtcd(cfg)
	if err != nil {
		return fmt.Errorf("mrsc: starting member %s: %w (see %s)", m.name, err, c.logPath(m.name))
	}
	m.etcd = e
	return nil
}

// localKV is the etcd KV API of one member, called in process: the same
// server code a gRPC client reaches (a write is a raft proposal, a read
// without WithSerializable a linearizable read), without the gRPC
// marshalling and loopback connection that cost the 2-core lab more CPU
// than the consensus itself.
func localKV(e *embed.Etcd) clientv3.KV {
	return clientv3.NewKVFromKVClient(adapter.KvServerToKvClient(v3rpc.NewKVServer(e.Server)), nil)
}

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return *u
}

// Isolate cuts every link between member name and the others (both
// directions); its Region's endpoint keeps answering, without a majority.
func (c *Cluster) Isolate(name string) error {
	if _, ok := c.members[name]; !ok {
		return fmt.Errorf("mrsc: no member %q", name)
	}
	c.peers.cut(name)
	return nil
}

// Rejoin restores every link of member name.
func (c *Cluster) Rejoin(name string) error {
	if _, ok := c.members[name]; !ok {
		return fmt.Errorf("mrsc: no member %q", name)
	}
	return c.peers.restore(name)
}

// SetRegionLatency changes the one-way latency between the two Regions.
func (c *Cluster) SetRegionLatency(d time.Duration) error {
	c.regionLatency.Store(int64(d))
	return c.peers.setRegionLatency(d)
}

// Close stops the clients, the members and the links.
func (c *Cluster) Close() {
	for _, m := range c.members {
		if m.etcd != nil {
			m.etcd.Close()
		}
		if m.router != nil { // a start that failed before the routers served
			_ = m.router.Close()
		}
	}
	if c.peers != nil {
		c.peers.close()
	}
}
