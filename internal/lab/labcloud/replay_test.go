package labcloud

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// The replay reaches the named Region's service with the window in RFC
// 3339 and returns its answer; a replay the service answers 503 is run
// again, and when it never succeeds the error carries the service's
// reason and every key replayed meanwhile.
func TestReplayJournalPostsTheWindowToTheRegionsService(t *testing.T) {
	var got map[string]string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/internal/replay-journal" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		_, _ = w.Write([]byte(`{"replayed":[{"key":"a2V5LTE=","paymentId":"p1"}],"present":7,"released":1}`))
	}))
	defer ok.Close()
	calls := 0
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if calls > 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"journal unavailable","replayed":[],"present":1,"released":0}`))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"journal unavailable","replayed":[{"key":"a2V5LTI=","paymentId":"p2"}],"present":0,"released":0}`))
	}))
	defer failing.Close()
	c := &Cloud{Lab: labdir.Lab{Regions: map[string]labdir.Region{"us-west-2": {InvokeURL: ok.URL}, "us-east-1": {InvokeURL: failing.URL}}}}
	from := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	res, err := c.ReplayJournal(context.Background(), "us-west-2", from, from.Add(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got["from"] != "2026-11-25T17:00:00Z" || got["to"] != "2026-11-25T17:01:30Z" {
		t.Fatalf("window sent: %v", got)
	}
	if len(res.Replayed) != 1 || string(res.Replayed[0].Key) != "key-1" || res.Replayed[0].PaymentID != "p1" || res.Present != 7 || res.Released != 1 {
		t.Fatalf("answer: %+v", res)
	}
	res, err = c.ReplayJournal(context.Background(), "us-east-1", from, from)
	if err == nil || !strings.Contains(err.Error(), "journal unavailable") || len(res.Replayed) != 1 || calls != replayAttempts {
		t.Fatalf("failed replay: %+v %v after %d calls", res, err, calls)
	}
	// An answer that stopped at its page or time bound says so, as the
	// payment function's does: the caller asks again.
	paged := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"replayed":[{"key":"a2V5LTM=","paymentId":"p3"}],"present":0,"released":0,"incomplete":true,"stopped":"page: 1 payments"}`))
	}))
	defer paged.Close()
	c.Lab.Regions["us-east-2"] = labdir.Region{InvokeURL: paged.URL}
	if res, err := c.ReplayJournal(context.Background(), "us-east-2", from, from); err != nil || !res.Incomplete || res.Stopped != "page: 1 payments" || len(res.Replayed) != 1 {
		t.Fatalf("incomplete answer: %+v %v", res, err)
	}
	if _, err := c.ReplayJournal(context.Background(), "eu-west-1", from, from); err == nil || !strings.Contains(err.Error(), "eu-west-1") {
		t.Fatalf("unknown Region: %v", err)
	}
}
