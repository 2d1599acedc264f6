package awsops

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The replay goes to the Region's payment function as a synchronous
// invocation carrying the window; its answer is the function's JSON,
// and a function error (HTTP 200 with X-Amz-Function-Error) is an error.
func TestReplayJournalInvokesThePaymentFunction(t *testing.T) {
	a, w := startWorld(t, now)
	from, to := time.Date(2026, 11, 25, 3, 58, 0, 0, time.UTC), time.Date(2026, 11, 25, 4, 1, 0, 0, time.UTC)
	res, err := a.ReplayJournal(context.Background(), "us-west-2", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 1 || string(res.Replayed[0].Key) != "key-lost" || res.Replayed[0].PaymentID != "p-lost" || res.Present != 3 || res.Released != 1 {
		t.Errorf("result %+v", res)
	}
	sent := strings.Join(w.requests, "\n")
	want := `lambda us-west-2 invoke /2015-03-31/functions/payment-processor-us-west-2-dev/invocations RequestResponse {"replayJournal":{"from":"2026-11-25T03:58:00Z","to":"2026-11-25T04:01:00Z"}}`
	if !strings.Contains(sent, want) {
		t.Errorf("requests lack %s:\n%s", want, sent)
	}
	w.replayErr = "replay of payment p-1: outcome unknown"
	if _, err := a.ReplayJournal(context.Background(), "us-west-2", from, to); err == nil ||
		!strings.Contains(err.Error(), "payment-processor-us-west-2-dev") || !strings.Contains(err.Error(), "outcome unknown") {
		t.Errorf("function error: %v", err)
	}
}
