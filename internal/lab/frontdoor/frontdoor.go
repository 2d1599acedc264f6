// Package frontdoor is the lab's stand-in for Route 53 failover routing:
// health checks on each Region's /health (like Route 53's, counted against
// a failure threshold both ways), the failover record's answer (PRIMARY
// while its check is healthy, else SECONDARY; PRIMARY when both are
// unhealthy, as Route 53 does), an HTTP front door that sends each request
// where a resolver caching that answer for the TTL would, and an
// authoritative DNS server for the failover name (dns.go).
package frontdoor

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Target is one Region behind the failover name.
type Target struct {
	Region string
	URL    *url.URL // the Region's API base URL
}

// Options tune the checks and the cache.
type Options struct {
	Interval  time.Duration // between checks of each Region
	Threshold int           // consecutive results that flip a check
	TTL       time.Duration // how long a resolver keeps an answer
}

// Door is the checker, the record and the front door.
type Door struct {
	primary, secondary Target
	opt                Options
	client             *http.Client

	mu      sync.Mutex
	checks  map[string]*check
	cached  string
	expires time.Time
	// controlled is the Region ARC's health checks name healthy once a
	// Region switch plan's Route 53 block ran ("" before): on AWS the
	// failover records then carry ARC's health checks, which answer with
	// the activated Region whatever the Regions' /health says.
	controlled string
	proxy      *httputil.ReverseProxy
}

type check struct {
	healthy          bool
	seen             bool // the first result sets the state
	fails, successes int
	last             time.Time
	lastStatus       int
}

// New builds a door; Run starts its checks.
func New(primary, secondary Target, opt Options) *Door {
	timeout := opt.Interval
	if timeout > 2*time.Second || timeout <= 0 {
		timeout = 2 * time.Second
	}
	d := &Door{primary: primary, secondary: secondary, opt: opt, client: &http.Client{Timeout: timeout},
		checks: map[string]*check{primary.Region: {}, secondary.Region: {}}}
	d.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := d.target(d.CachedAnswer())
			r.SetURL(t.URL)
			r.Out.Host = t.URL.Host
		},
		// The Region behind the answer did not answer: a retryable 503,
		// as a client would see a failed connection and retry.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"region_unreachable","message":"the Region the failover name answers with did not respond; retry with the same Idempotency-Key"}}` + "\n"))
		},
	}
	return d
}

func (d *Door) target(region string) Target {
	if region == d.secondary.Region {
		return d.secondary
	}
	return d.primary
}

// Run checks both Regions every interval until ctx ends.
func (d *Door) Run(ctx context.Context) {
	tick := time.NewTicker(d.opt.Interval)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for _, t := range []Target{d.primary, d.secondary} {
			wg.Add(1)
			go func() { defer wg.Done(); d.checkOnce(ctx, t) }()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// CheckNow runs one round of checks (start-up readiness).
func (d *Door) CheckNow(ctx context.Context) {
	for _, t := range []Target{d.primary, d.secondary} {
		d.checkOnce(ctx, t)
	}
}

func (d *Door) checkOnce(ctx context.Context, t Target) {
	status := 0
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL.String()+"/health", nil)
	if err == nil {
		var resp *http.Response
		if resp, err = d.client.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
	}
	d.record(t.Region, status >= 200 && status < 300, status)
}

func (d *Door) record(region string, ok bool, status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.checks[region]
	c.last, c.lastStatus = time.Now(), status
	if !c.seen {
		c.seen, c.healthy = true, ok
		return
	}
	if ok {
		c.successes, c.fails = c.successes+1, 0
		if !c.healthy && c.successes >= d.opt.Threshold {
			c.healthy = true
		}
	} else {
		c.fails, c.successes = c.fails+1, 0
		if c.healthy && c.fails >= d.opt.Threshold {
			c.healthy = false
		}
	}
}

// Healthy is region's health-check status.
func (d *Door) Healthy(region string) (bool, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.checks[region]
	if !ok {
		return false, false
	}
	return c.healthy, c.seen
}

// Answer is the failover record's answer now (the authoritative view).
func (d *Door) Answer() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.answerLocked()
}

func (d *Door) answerLocked() string {
	if d.controlled != "" {
		return d.controlled
	}
	if d.checks[d.primary.Region].healthy || !d.checks[d.secondary.Region].healthy {
		return d.primary.Region
	}
	return d.secondary.Region
}

// Control makes the record answer with region (ARC's Route 53 health
// check block); "" gives the answer back to the Regions' health checks.
// Resolvers keep their cached answer for the TTL either way.
func (d *Door) Control(region string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.controlled = region
}

// Controlled is the Region ARC's health checks name ("" when none).
func (d *Door) Controlled() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.controlled
}

// CachedAnswer is what a resolver caching the answer for the TTL holds.
func (d *Door) CachedAnswer() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now := time.Now(); d.cached == "" || !now.Before(d.expires) {
		d.cached, d.expires = d.answerLocked(), now.Add(d.opt.TTL)
	}
	return d.cached
}

// ServeHTTP is the front door: the request goes to the cached answer.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Lab-Answer", d.CachedAnswer())
	d.proxy.ServeHTTP(w, r)
}

// CheckState is one Region's check for status.
type CheckState struct {
	Healthy    bool      `json:"healthy"`
	LastStatus int       `json:"lastStatus"`
	LastCheck  time.Time `json:"lastCheck"`
}

// State reports every check.
func (d *Door) State() map[string]CheckState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]CheckState{}
	for r, c := range d.checks {
		out[r] = CheckState{Healthy: c.healthy, LastStatus: c.lastStatus, LastCheck: c.last}
	}
	return out
}

// Floor is the detection floor: a Region fails after Threshold checks
// Interval apart, and resolvers keep the old answer for up to TTL.
func (o Options) Floor() time.Duration {
	return time.Duration(o.Threshold)*o.Interval + o.TTL
}
