package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreatePayment measures a warm POST /payments through the
// handler, in process as the Lambda runtime calls it (no HTTP hop in front),
// against the local backends (MariaDB, dynalite, the EventBridge
// endpoint): one transaction, then the session put and the event in
// parallel. Reports p50/p99 latency and payments per second.
func BenchmarkCreatePayment(b *testing.B) {
	e := benchEnv(b)
	var seq atomic.Int64
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		n := seq.Add(1)
		req := httptest.NewRequest("POST", "/payments",
			strings.NewReader(fmt.Sprintf(`{"amount":%d,"currency":"EUR","merchantRef":"m-1","customerRef":"c-%d"}`, 100+n, n)))
		req.Header.Set("X-Api-Key", apiKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d-%d", start.UnixNano(), n))
		t0 := time.Now()
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "payments/s")
}

// BenchmarkBackendRoundTrips measures the round trips a payment cannot
// avoid, done directly: the transaction (begin, insert payment, insert
// ledger pair, commit), then the session put and the event in parallel.
// The handler's p50 is compared with this floor.
func BenchmarkBackendRoundTrips(b *testing.B) {
	e := benchEnv(b)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := e.floor(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}
