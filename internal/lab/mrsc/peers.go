package mrsc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/link"
	"github.com/payment-dr/payment-dr/internal/proc"
)

// peerLinks carry the members' peer traffic: one Toxiproxy proxy per
// ordered pair (from, to) in front of to's etcd peer listener, and one
// router per member on the peer URL the others dial.
//
// etcd gives each member one peer URL that every other member dials, so
// a proxy in front of a member could not cut it off from one member and
// not another, nor stop the member's own dials (its messages travel both
// over connections it opens and over connections opened to it). Every
// raft request names its sender (header X-Server-From, rafthttp), so the
// router sends each request through the proxy of its (sender, member)
// pair: cutting the pairs of a member in both directions cuts all its
// raft traffic. Requests without a sender (version checks, probes) carry
// no raft messages and go straight to the member.
//
// The routers enforce a cut themselves too: a request of a cut pair is
// refused, and the pair's requests in flight (raft streams are long
// responses) are cancelled, so a cut does not rest on how the proxy
// tracks its connections.
type peerLinks struct {
	region, witness *link.Link        // region<->region pairs; pairs with the witness
	byID            map[string]string // member id (hex) -> name
	members         map[string]*member
	pairs           map[string]string // "from>to" -> proxy listen address
	routers         []*http.Server
	transports      []*http.Transport

	mu       sync.Mutex
	cutPairs map[string]bool
	inFlight map[string]map[*int]context.CancelFunc // by pair
}

func pairKey(from, to string) string { return from + ">" + to }

func startPeerLinks(members map[string]*member, witness string, regionLatency time.Duration, witnessLatency func(region string) time.Duration, logw io.Writer) (*peerLinks, error) {
	p := &peerLinks{region: link.New(logw), witness: link.New(logw), byID: map[string]string{}, members: members, pairs: map[string]string{},
		cutPairs: map[string]bool{}, inFlight: map[string]map[*int]context.CancelFunc{}}
	for n, m := range members {
		p.byID[m.id.String()] = n
	}
	for from := range members {
		for to, dst := range members {
			if from == to {
				continue
			}
			l, lat := p.region, regionLatency
			switch witness {
			case to:
				l, lat = p.witness, witnessLatency(from)
			case from:
				l, lat = p.witness, witnessLatency(to)
			}
			addr, err := addLink(l, pairKey(from, to), strings.TrimPrefix(dst.peerURL, "http://"), lat)
			if err != nil {
				p.close()
				return nil, err
			}
			p.pairs[pairKey(from, to)] = addr
		}
	}
	for _, m := range members {
		if err := p.serveRouter(m); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

// addLink adds the proxy of one pair on a free port. Toxiproxy binds the
// port itself, so another program may take it between the pick and the
// bind: then the proxy tries another.
func addLink(l *link.Link, name, upstream string, latency time.Duration) (string, error) {
	var err error
	for range 5 {
		var port int
		if port, err = proc.FreePort(); err != nil {
			return "", err
		}
		var addr string
		addr, err = l.Add(name, fmt.Sprintf("127.0.0.1:%d", port), upstream, latency)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			return addr, err
		}
	}
	return "", err
}

// serveRouter serves m's advertised peer URL (its listener is held from
// the start) and sends each request through the proxy of its sender's
// pair.
func (p *peerLinks) serveRouter(m *member) error {
	ln := m.router
	m.router = nil
	if ln == nil {
		return fmt.Errorf("mrsc: router of %s: no listener", m.name)
	}
	direct, _ := url.Parse(m.peerURL)
	transport := &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext, MaxIdleConnsPerHost: 8, DisableCompression: true}
	p.transports = append(p.transports, transport)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target := direct
			if from, ok := p.byID[r.In.Header.Get("X-Server-From")]; ok {
				target = &url.URL{Scheme: "http", Host: p.pairs[pairKey(from, m.name)]}
			}
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		// raft streams are long responses written message by message.
		FlushInterval: -1,
		Transport:     transport,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler:  func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, ok := p.byID[r.Header.Get("X-Server-From")]
		if !ok {
			rp.ServeHTTP(w, r) // no raft messages: straight to the member
			return
		}
		ctx, leave, open := p.enter(pairKey(from, m.name), r.Context())
		if !open {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer leave()
		rp.ServeHTTP(w, r.WithContext(ctx))
	})
	srv := &http.Server{Handler: gate, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	p.routers = append(p.routers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("mrsc router %s: %v", m.name, err)
		}
	}()
	return nil
}

// pairsOf are the keys of every pair name belongs to, both directions.
func (p *peerLinks) pairsOf(name string) []string {
	var keys []string
	for other := range p.members {
		if other != name {
			keys = append(keys, pairKey(name, other), pairKey(other, name))
		}
	}
	return keys
}

// enter admits one request of pair unless the pair is cut; leave ends it.
func (p *peerLinks) enter(pair string, parent context.Context) (ctx context.Context, leave func(), open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutPairs[pair] {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	id := new(int)
	if p.inFlight[pair] == nil {
		p.inFlight[pair] = map[*int]context.CancelFunc{}
	}
	p.inFlight[pair][id] = cancel
	return ctx, func() {
		p.mu.Lock()
		delete(p.inFlight[pair], id)
		p.mu.Unlock()
		cancel()
	}, true
}

// cut refuses name's pairs at the routers, ends their requests in flight
// and idle connections, and disables their proxies.
func (p *peerLinks) cut(name string) { p.cutKeys(p.pairsOf(name)) }

func (p *peerLinks) restore(name string) error { return p.restoreKeys(p.pairsOf(name)) }

// cutKeys cuts the given pairs (never none: the links read no name as all).
func (p *peerLinks) cutKeys(keys []string) {
	if len(keys) == 0 {
		return
	}
	p.mu.Lock()
	for _, k := range keys {
		p.cutPairs[k] = true
		for _, cancel := range p.inFlight[k] {
			cancel()
		}
	}
	p.mu.Unlock()
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
	p.region.Cut(keys...)
	p.witness.Cut(keys...)
}

func (p *peerLinks) restoreKeys(keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	err := errors.Join(p.region.Restore(keys...), p.witness.Restore(keys...))
	p.mu.Lock()
	for _, k := range keys {
		delete(p.cutPairs, k)
	}
	p.mu.Unlock()
	return err
}

// passing reports how many requests of pair are in flight at the routers.
func (p *peerLinks) passing(pair string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inFlight[pair])
}

func (p *peerLinks) setRegionLatency(d time.Duration) error { return p.region.SetLatency(d) }

func (p *peerLinks) close() {
	for _, s := range p.routers {
		_ = s.Close()
	}
	p.region.Close()
	p.witness.Close()
}
