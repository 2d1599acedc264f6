package frontdoor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// region is a payment service stand-in whose /health can be switched.
type region struct {
	name    string
	healthy atomic.Bool
	srv     *httptest.Server
}

func newRegion(t *testing.T, name string, healthy bool) *region {
	r := &region{name: name}
	r.healthy.Store(healthy)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Region", name)
		if req.URL.Path == "/health" && !r.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(name))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *region) target() Target {
	u, _ := url.Parse(r.srv.URL)
	return Target{Region: r.name, URL: u}
}

// The record follows Route 53's failover rules: a check flips only after
// threshold consecutive results, PRIMARY wins while healthy and when both
// are unhealthy.
func TestThresholdAndFailoverRules(t *testing.T) {
	p, s := newRegion(t, "p", true), newRegion(t, "s", false)
	d := New(p.target(), s.target(), Options{Interval: time.Hour, Threshold: 3, TTL: 0})
	ctx := context.Background()
	d.CheckNow(ctx)
	if d.Answer() != "p" {
		t.Fatalf("answer %s, want p", d.Answer())
	}
	p.healthy.Store(false)
	s.healthy.Store(true)
	for i := 1; i <= 2; i++ {
		d.CheckNow(ctx)
		if d.Answer() != "p" {
			t.Fatalf("flipped after %d failures, threshold is 3", i)
		}
	}
	d.CheckNow(ctx)
	if d.Answer() != "s" {
		t.Fatalf("answer %s after 3 failures, want s", d.Answer())
	}
	s.healthy.Store(false)
	for i := 0; i < 3; i++ {
		d.CheckNow(ctx)
	}
	if d.Answer() != "p" {
		t.Fatalf("both unhealthy: answer %s, want the primary like Route 53", d.Answer())
	}
	if got := (Options{Interval: time.Second, Threshold: 3, TTL: 2 * time.Second}).Floor(); got != 5*time.Second {
		t.Fatalf("floor %s", got)
	}
}

// The front door keeps its answer for the TTL, like a caching resolver,
// and sends requests where its answer points.
func TestFrontDoorCachesForTTL(t *testing.T) {
	p, s := newRegion(t, "p", true), newRegion(t, "s", false)
	d := New(p.target(), s.target(), Options{Interval: time.Hour, Threshold: 1, TTL: 300 * time.Millisecond})
	d.CheckNow(context.Background())
	fd := httptest.NewServer(d)
	defer fd.Close()
	get := func() string {
		resp, err := http.Get(fd.URL + "/payments")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Region")
	}
	if got := get(); got != "p" {
		t.Fatalf("got %s", got)
	}
	p.healthy.Store(false)
	s.healthy.Store(true)
	d.CheckNow(context.Background())
	d.CheckNow(context.Background())
	if d.Answer() != "s" || get() != "p" {
		t.Fatalf("within the TTL the cached answer must still be p (record %s)", d.Answer())
	}
	time.Sleep(350 * time.Millisecond)
	if got := get(); got != "s" {
		t.Fatalf("after the TTL: %s, want s", got)
	}
	// A Region that does not answer is a retryable 503 at the door.
	s.srv.Close()
	time.Sleep(350 * time.Millisecond)
	resp, err := http.Get(fd.URL + "/payments")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("unreachable Region: %d", resp.StatusCode)
	}
}

func TestDNSAnswersTheFailoverName(t *testing.T) {
	p, s := newRegion(t, "us-east-1", true), newRegion(t, "us-west-2", false)
	d := New(p.target(), s.target(), Options{Interval: time.Hour, Threshold: 1, TTL: time.Second})
	d.CheckNow(context.Background())
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: &DNS{Name: "api.payment-dev.example.com.", Door: d, TTL: time.Second}}
	go func() { _ = srv.ActivateAndServe() }()
	defer srv.Shutdown()
	addr := pc.LocalAddr().String()
	if r, err := Query(addr, "api.payment-dev.example.com", time.Second); err != nil || r != "us-east-1" {
		t.Fatalf("answer %q %v", r, err)
	}
	p.healthy.Store(false)
	s.healthy.Store(true)
	d.CheckNow(context.Background())
	if r, err := Query(addr, "api.payment-dev.example.com", time.Second); err != nil || r != "us-west-2" {
		t.Fatalf("after failover: %q %v", r, err)
	}
	if _, err := Query(addr, "other.payment-dev.example.com", time.Second); err == nil {
		t.Fatal("another name in the zone answered")
	}
	if _, err := Query(addr, "example.org", time.Second); err == nil {
		t.Fatal("another zone answered")
	}
}
