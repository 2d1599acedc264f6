package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var benchSeq atomic.Int64

// post runs one warm POST /payments through the handler, in process as the
// Lambda runtime calls it (no HTTP hop in front).
func (e *bench) post(b *testing.B, run int64) time.Duration {
	n := benchSeq.Add(1)
	req := httptest.NewRequest("POST", "/payments",
		strings.NewReader(fmt.Sprintf(`{"amount":%d,"currency":"EUR","merchantRef":"m-1","customerRef":"c-%d"}`, 100+n, n)))
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d-%d", run, n))
	t0 := time.Now()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	d := time.Since(t0)
	if rec.Code != http.StatusCreated {
		b.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	return d
}

func percentile(lat []time.Duration, p int) float64 {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return float64(lat[(len(lat)-1)*p/100].Microseconds()) / 1000
}

// BenchmarkCreatePayment measures a warm POST /payments against the local
// backends (MariaDB, dynalite, the EventBridge endpoint): the transaction
// in one round trip, then the session put and the event in parallel. One
// request at a time, as one Lambda instance serves them. Reports p50/p99
// latency and payments per second.
func BenchmarkCreatePayment(b *testing.B) {
	e := benchEnv(b)
	run := time.Now().UnixNano()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		lat = append(lat, e.post(b, run))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(percentile(lat, 50), "p50-ms")
	b.ReportMetric(percentile(lat, 99), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "payments/s")
}

// BenchmarkCreatePaymentParallel: throughput of many concurrent callers
// (many Lambda instances) against the same single backend set.
func BenchmarkCreatePaymentParallel(b *testing.B) {
	e := benchEnv(b)
	run := time.Now().UnixNano()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			mine = append(mine, e.post(b, run))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(percentile(lat, 50), "p50-ms")
	b.ReportMetric(percentile(lat, 99), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "payments/s")
}

// BenchmarkHandlerOverFloor alternates a handler request with the round
// trips a payment cannot avoid, done directly (the journal claim, the
// transaction as one batch, then the claim's commit mark, the session put
// and the event in parallel), so both see the same backend load. Reports both medians and the handler's overhead.
func BenchmarkHandlerOverFloor(b *testing.B) {
	e := benchEnv(b)
	run := time.Now().UnixNano()
	handler := make([]time.Duration, 0, b.N)
	floor := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		measureFloor := func() {
			t0 := time.Now()
			if err := e.floor(i); err != nil {
				b.Fatal(err)
			}
			floor = append(floor, time.Since(t0))
		}
		if i%2 == 0 {
			measureFloor()
			handler = append(handler, e.post(b, run))
		} else {
			handler = append(handler, e.post(b, run))
			measureFloor()
		}
	}
	b.StopTimer()
	h, f := percentile(handler, 50), percentile(floor, 50)
	b.ReportMetric(h, "handler-p50-ms")
	b.ReportMetric(f, "floor-p50-ms")
	b.ReportMetric(100*(h-f)/f, "overhead-%")
}

// BenchmarkHealth measures GET /health as Route 53 calls it: the database
// probe and the cached table state (its first call warms the cache).
func BenchmarkHealth(b *testing.B) {
	e := benchEnv(b)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
		lat = append(lat, time.Since(t0))
		if rec.Code != http.StatusOK {
			b.Fatalf("health %d: %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(percentile(lat, 50), "p50-ms")
	b.ReportMetric(percentile(lat, 99), "p99-ms")
}
