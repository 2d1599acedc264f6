package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// A fenced Region answers every request 500 without reaching the service,
// whatever the service would have said; unfenced, requests reach it; a
// service that is gone leaves the client without an answer.
func TestFenceRefusesEveryRequestUntilLifted(t *testing.T) {
	var reached atomic.Int32
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, `{"dbWritable":true}`)
	}))
	u, _ := url.Parse(svc.URL)
	g := New(u)
	front := httptest.NewServer(g)
	defer front.Close()
	get := func(path string) (int, string) {
		t.Helper()
		method := http.MethodPost
		if path == "/health" {
			method = http.MethodGet
		}
		req, _ := http.NewRequest(method, front.URL+path, strings.NewReader(`{"amount":1}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 || body != `{"dbWritable":true}` || reached.Load() != 1 {
		t.Fatalf("unfenced: %d %s", code, body)
	}
	g.SetFenced(true)
	for _, path := range []string{"/health", "/payments"} {
		if code, body := get(path); code != 500 || body != FencedBody {
			t.Errorf("fenced %s: %d %s", path, code, body)
		}
	}
	if reached.Load() != 1 || !g.Fenced() {
		t.Errorf("a fenced request reached the service (%d)", reached.Load())
	}
	g.SetFenced(false)
	if code, _ := get("/payments"); code != 200 || reached.Load() != 2 {
		t.Errorf("after unfencing: %d", code)
	}
	svc.Close()
	if resp, err := http.Get(front.URL + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("a gone service answered %d", resp.StatusCode)
	}
}

// Only the API's routes reach the service: the lab's own entry points
// (the replay's) are not reachable through the gateway, as API Gateway
// forwards no other request.
func TestOnlyTheAPIsRoutesReachTheService(t *testing.T) {
	var reached atomic.Int32
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer svc.Close()
	u, _ := url.Parse(svc.URL)
	front := httptest.NewServer(New(u))
	defer front.Close()
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/health", 200}, {"POST", "/payments", 200}, {"GET", "/payments/0123456789abcdef0123456789abcdef", 200},
		{"POST", "/internal/replay-journal", 404}, {"POST", "/internal/replay-window", 404}, {"POST", "/health", 404},
		{"GET", "/payments/", 404}, {"DELETE", "/payments/x", 404}, {"GET", "/payments/x/y", 404},
	} {
		req, _ := http.NewRequest(c.method, front.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || c.code == 404 && string(b) != NotFoundBody {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, b, c.code)
		}
	}
	if reached.Load() != 3 {
		t.Errorf("%d requests reached the service, want the 3 routed ones", reached.Load())
	}
}
