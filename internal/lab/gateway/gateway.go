// Package gateway is the lab's stand-in for API Gateway in front of a
// Region's payment function. It forwards the API's routes (and nothing
// else, as API Gateway) to the payment service, except while the function is fenced (on AWS: reserved
// concurrency 0): then every request, /health included, is answered 500
// {"message":"Internal Server Error"} without reaching the service, as API
// Gateway answers for a throttled Lambda, whatever the database's state.
// A service that does not answer (its Region is down) leaves the client
// with a dropped connection, as an unreachable Region does.
package gateway

import (
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// FencedBody is what a fenced Region answers (API Gateway's body for a
// throttled Lambda integration: AWS re:Post knowledge center, "API Gateway
// internal server error", throttling occurs).
const FencedBody = `{"message":"Internal Server Error"}`

// Gateway is one Region's front.
type Gateway struct {
	proxy  *httputil.ReverseProxy
	fenced atomic.Bool
}

// New fronts the payment service at target.
func New(target *url.URL) *Gateway {
	p := httputil.NewSingleHostReverseProxy(target)
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { drop(w) }
	return &Gateway{proxy: p}
}

// SetFenced fences (true) or unfences the Region's payment service.
func (g *Gateway) SetFenced(f bool) { g.fenced.Store(f) }

// Fenced reports the fence.
func (g *Gateway) Fenced() bool { return g.fenced.Load() }

// NotFoundBody is API Gateway's answer to a request no route matches.
const NotFoundBody = `{"message":"Not Found"}`

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !routed(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, NotFoundBody)
		return
	}
	if g.fenced.Load() {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, FencedBody)
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// routed reports whether one of the API's routes matches r: API Gateway
// forwards nothing else (an HTTP API answers 404 for a request without a
// matching route, before any integration runs).
func routed(r *http.Request) bool {
	for _, route := range naming.APIRoutes {
		if route.Matches(r.Method, r.URL.Path) {
			return true
		}
	}
	return false
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}
