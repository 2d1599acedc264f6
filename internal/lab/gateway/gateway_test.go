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
		resp, err := http.Post(front.URL+path, "application/json", strings.NewReader(`{"amount":1}`))
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
