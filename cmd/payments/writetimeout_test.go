package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A slow answer on a route with its own write deadline reaches the client;
// the same answer under the server's shorter write timeout is cut off.
func TestRouteWriteTimeoutOutlastsTheServers(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, `{"replayed":[]}`)
	})
	for _, tc := range []struct {
		name     string
		h        http.Handler
		wantBody bool
	}{
		{"server timeout", slow, false},
		{"route timeout", withWriteTimeout(slow, 5*time.Second), true},
	} {
		srv := httptest.NewUnstartedServer(tc.h)
		srv.Config.WriteTimeout = 100 * time.Millisecond
		srv.Start()
		resp, err := http.Get(srv.URL)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		got := err == nil && string(body) == `{"replayed":[]}`
		if got != tc.wantBody {
			t.Errorf("%s: body %q, err %v; want the answer: %v", tc.name, body, err, tc.wantBody)
		}
		srv.Close()
	}
}
