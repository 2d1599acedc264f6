// Package link is the lab's inter-Region link: one Toxiproxy proxy in
// front of each Region's database, which the other Region's replica
// connects through. Toxiproxy runs as a library inside the lab daemon.
//
// Faults follow the pitfall measured in docs/lab-replication.md: a link
// is cut by disabling the proxies (connections closed, new ones refused),
// never by removing a latency toxic after the downstream closed (that hung
// Toxiproxy's API: github.com/Shopify/toxiproxy/issues/558); the latency is changed in place.
package link

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

const latencyToxic = "inter-region-latency"

// Link holds the proxies.
type Link struct {
	mu      sync.Mutex
	server  *toxiproxy.ApiServer
	proxies map[string]*toxiproxy.Proxy // by the Region whose database it fronts
	latency time.Duration
	cut     map[string]bool
}

// New creates the link; log receives Toxiproxy's own log.
func New(log io.Writer) *Link {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.New(log).With().Timestamp().Logger())
	return &Link{server: srv, proxies: map[string]*toxiproxy.Proxy{}, cut: map[string]bool{}}
}

// Add fronts region's database (upstream) with a proxy on listen and the
// link's one-way latency in both directions.
func (l *Link) Add(region, listen, upstream string, latency time.Duration) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := toxiproxy.NewProxy(l.server, "link-"+region, listen, upstream)
	if err := l.server.Collection.Add(p, true); err != nil {
		return "", fmt.Errorf("inter-Region link in front of %s on %s: %w", region, listen, err)
	}
	l.proxies[region] = p
	l.latency = latency
	for _, stream := range []string{"downstream", "upstream"} {
		body := fmt.Sprintf(`{"name":"%s-%s","type":"latency","stream":"%s","attributes":{"latency":%d,"jitter":0}}`,
			latencyToxic, stream, stream, latency.Milliseconds())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			return "", fmt.Errorf("latency toxic: %w", err)
		}
	}
	return p.Listen, nil
}

// SetLatency changes the one-way latency of every proxy in place.
func (l *Link) SetLatency(d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.proxies {
		for _, stream := range []string{"downstream", "upstream"} {
			body := fmt.Sprintf(`{"attributes":{"latency":%d,"jitter":0},"toxicity":1}`, d.Milliseconds())
			if _, err := p.Toxics.UpdateToxicJson(latencyToxic+"-"+stream, strings.NewReader(body)); err != nil {
				return err
			}
		}
	}
	l.latency = d
	return nil
}

// Cut disables the proxy in front of each named Region's database (all
// when none is named): open connections close, new ones are refused.
func (l *Link) Cut(regions ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for r, p := range l.proxies {
		if len(regions) == 0 || contains(regions, r) {
			p.Stop()
			l.cut[r] = true
		}
	}
}

// Restore re-enables the proxies on their same ports.
func (l *Link) Restore(regions ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for r, p := range l.proxies {
		if len(regions) == 0 || contains(regions, r) {
			if l.cut[r] {
				if err := p.Start(); err != nil {
					return fmt.Errorf("restoring the link to %s: %w", r, err)
				}
			}
			delete(l.cut, r)
		}
	}
	return nil
}

// State is the link's state for status.
type State struct {
	LatencyMs int64           `json:"latencyMs"`
	Cut       map[string]bool `json:"cut"`
}

// State reports latency and cut proxies.
func (l *Link) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := map[string]bool{}
	for r := range l.proxies {
		cut[r] = l.cut[r]
	}
	return State{LatencyMs: l.latency.Milliseconds(), Cut: cut}
}

// Close stops every proxy.
func (l *Link) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.proxies {
		p.Stop()
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
