package canary

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteAndRead(t *testing.T) {
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "k" {
			w.WriteHeader(401)
			return
		}
		switch {
		case r.Method == "POST" && r.URL.Path == "/payments":
			var b map[string]any
			_ = json.NewDecoder(r.Body).Decode(&b)
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			if b["amount"] != 1.0 || r.Header.Get("Idempotency-Key") == "down" {
				w.WriteHeader(503)
				w.Write([]byte(`{"error":{"code":"region_read_only"}}`))
				return
			}
			w.WriteHeader(201)
			w.Write([]byte(`{"id":"0123456789abcdef0123456789abcdef","region":"us-west-2"}`))
		case r.URL.Path == "/payments/0123456789abcdef0123456789abcdef":
			w.Write([]byte(`{}`))
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	c := &HTTP{WriteURL: srv.URL, RegionURL: func(string) string { return srv.URL }, APIKey: "k"}
	id, region, err := c.Write(context.Background(), "drill-1")
	if err != nil || id != "0123456789abcdef0123456789abcdef" || region != "us-west-2" {
		t.Fatalf("%q %q %v", id, region, err)
	}
	if _, _, err := c.Write(context.Background(), "down"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503 not reported: %v", err)
	}
	if ok, err := c.Read(context.Background(), "us-west-2", id); !ok || err != nil {
		t.Errorf("read existing: %v %v", ok, err)
	}
	if ok, err := c.Read(context.Background(), "us-west-2", "ffffffffffffffffffffffffffffffff"); ok || err != nil {
		t.Errorf("read missing: %v %v", ok, err)
	}
	c.APIKey = "wrong"
	if _, err := c.Read(context.Background(), "us-west-2", id); err == nil {
		t.Error("401 not reported")
	}
}
