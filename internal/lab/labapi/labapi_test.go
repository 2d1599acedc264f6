package labapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// server answers like the daemon: each request body decoded strictly into
// its type, so a client field the server does not name fails the test.
func server(t *testing.T, h func(path string, body []byte) (int, any)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status, out := h(r.URL.Path, body)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return &Client{Addr: strings.TrimPrefix(srv.URL, "http://"), HTTP: srv.Client()}
}

func strict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
}

// Client and server share the JSON-tagged bodies: what Keep and
// KeptDatabase send decodes into RegionRequest, and the answers decode
// into the client's results.
func TestClientSpeaksTheServersTypes(t *testing.T) {
	c := server(t, func(path string, body []byte) (int, any) {
		var req RegionRequest
		strict(t, body, &req)
		if !bytes.Contains(body, []byte(`"region":"us-east-1"`)) {
			t.Errorf("%s body %s", path, body)
		}
		switch path {
		case PathKeep:
			return http.StatusOK, KeepResponse{Ref: "ref-of-" + req.Region}
		case PathKept:
			return http.StatusOK, KeptResponse{Database: "kept_" + req.Region}
		}
		return http.StatusNotFound, ErrorResponse{Error: "no such path " + path}
	})
	ctx := context.Background()
	if ref, err := c.Keep(ctx, "us-east-1"); err != nil || ref != "ref-of-us-east-1" {
		t.Fatalf("Keep: %q %v", ref, err)
	}
	if db, err := c.KeptDatabase(ctx, "us-east-1"); err != nil || db != "kept_us-east-1" {
		t.Fatalf("KeptDatabase: %q %v", db, err)
	}
}

// A refusal comes back as *Error with the server's status and message.
func TestClientReturnsTheDaemonsRefusal(t *testing.T) {
	c := server(t, func(path string, body []byte) (int, any) {
		var req MoveRequest
		strict(t, body, &req)
		return http.StatusConflict, ErrorResponse{Error: req.To + " already holds the writer"}
	})
	_, err := c.RequestMove(context.Background(), MoveRequest{Kind: Switchover, To: "us-west-2"})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Msg != "us-west-2 already holds the writer" {
		t.Fatalf("refusal: %#v", err)
	}
}

// A move is in progress until it is done or failed.
func TestMoveInProgress(t *testing.T) {
	for status, want := range map[string]bool{MovePending: true, MoveRunning: true, MoveCancelling: true, MoveDone: false, MoveFailed: false} {
		if got := (&Move{Status: status}).InProgress(); got != want {
			t.Errorf("%s: in progress %v, want %v", status, got, want)
		}
	}
	if (*Move)(nil).InProgress() {
		t.Error("no move is in progress")
	}
}
