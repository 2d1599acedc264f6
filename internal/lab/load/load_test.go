package load

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/acks"
)

// The client retries a 503 and a dropped connection with the same key
// and body, records only acknowledgements, and does not retry a 4xx.
func TestRetriesWithTheSameKeyAndRecordsAcks(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // key -> bodies
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		mu.Lock()
		calls[key]++
		n := calls[key]
		seen[key] = append(seen[key], b.String())
		mu.Unlock()
		switch {
		case r.Header.Get("X-Api-Key") != "k":
			w.WriteHeader(http.StatusUnauthorized)
		case n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case n == 2:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close() // the answer is lost
		default:
			w.Header().Set("X-Lab-Answer", "us-west-2")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": strings.Repeat("f", 32), "region": "us-west-2"})
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{URL: srv.URL, APIKey: "k", Rate: 20, Duration: 300 * time.Millisecond, Out: &out, Grace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	list, err := acks.Parse(&out)
	if err != nil {
		t.Fatal(err)
	}
	// A dropped answer on a reused connection may be retried inside
	// net/http itself (a request with an Idempotency-Key is replayable),
	// so the client counts 1 or 2 retries per payment; the server saw 3.
	if res.Started == 0 || int(res.Acked) != len(list) || res.Acked != res.Started || res.Retries < res.Started {
		t.Fatalf("result %+v with %d acks", res, len(list))
	}
	for _, a := range list {
		if a.Attempts < 2 || a.Region != "us-west-2" || a.Status != 201 {
			t.Fatalf("ack %+v", a)
		}
		if b := seen[a.Key]; len(b) != 3 || b[0] != b[1] || b[1] != b[2] {
			t.Fatalf("retries of %s changed the body: %v", a.Key, b)
		}
	}
	res, err = Run(context.Background(), Options{URL: srv.URL, APIKey: "wrong", Rate: 10, Duration: 200 * time.Millisecond, Out: &out})
	if err != nil || res.Rejected == 0 || res.Acked != 0 || res.Retries != 0 {
		t.Fatalf("a 401 must be rejected, not retried: %+v %v", res, err)
	}
}

// A client that never retries sends each key once and records its one
// answer with the service's error code, including no answer at all.
func TestNoRetrySendsEachKeyOnceAndRecordsEveryAnswer(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("Idempotency-Key")]++
		n++
		i := n
		mu.Unlock()
		switch i % 3 {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"backend_unavailable","message":"not applied"}}`))
		case 1:
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": strings.Repeat("f", 32), "region": "us-east-1"})
		default:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{URL: srv.URL, APIKey: "k", Rate: 30, Duration: 300 * time.Millisecond, Out: &out, NoRetry: true,
		Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	list, err := acks.Parse(&out)
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[int]int{}
	for _, a := range list {
		byStatus[a.Status]++
		if a.Status == 503 && (a.Code != "backend_unavailable" || !a.CertainFailure()) {
			t.Errorf("answer %+v", a)
		}
		if a.Status == 0 && a.CertainFailure() {
			t.Errorf("no answer counted as a certain failure: %+v", a)
		}
	}
	for key, c := range calls {
		if c != 1 {
			t.Errorf("%s sent %d times", key, c)
		}
	}
	if res.Retries != 0 || int(res.Started) != len(list) || byStatus[201] == 0 || byStatus[503] == 0 {
		t.Errorf("result %+v, answers by status %v", res, byStatus)
	}
}
