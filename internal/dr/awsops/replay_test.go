package awsops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/payment-dr/payment-dr/internal/naming"
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

// The replay's invocation runs as long as the payment function takes
// (up to its timeout): with the bounded configuration drctl uses (2 s an
// attempt, 3 attempts), an invocation that answers after more than 2 s
// is sent once and its answer read, not abandoned and sent again as a new
// invocation of the same window.
func TestReplayInvocationOutlastsTheAttemptTimeoutAndIsSentOnce(t *testing.T) {
	a, w := startWorldWith(t, now, func(c *aws.Config) { *c = Bounded(*c, AttemptTimeout, MaxBackoff) })
	w.invokeTakes = AttemptTimeout + 500*time.Millisecond
	from := time.Date(2026, 11, 25, 3, 58, 0, 0, time.UTC)
	res, err := a.ReplayJournal(context.Background(), "us-west-2", from, from.Add(time.Minute))
	if n := len(w.sent("lambda us-west-2 invoke")); n != 1 {
		t.Errorf("the replay was invoked %d times, want once", n)
	}
	if err != nil || len(res.Replayed) != 1 || res.Replayed[0].PaymentID != "p-lost" {
		t.Errorf("answer %+v, %v", res, err)
	}
	if ReplayInvokeTimeout <= naming.PaymentFunctionTimeout {
		t.Errorf("the client waits %s for a function that may run %s", ReplayInvokeTimeout, naming.PaymentFunctionTimeout)
	}
}

// A failed invocation (500, which the SDK's standard retryer repeats) is
// not sent again by the SDK: the replay step decides, after its backoff.
func TestReplayInvocationFailureIsNotRetriedByTheSDK(t *testing.T) {
	a, w := startWorldWith(t, now, func(c *aws.Config) { *c = Bounded(*c, AttemptTimeout, MaxBackoff) })
	w.fail500["lambda invoke"] = 1
	from := time.Date(2026, 11, 25, 3, 58, 0, 0, time.UTC)
	if _, err := a.ReplayJournal(context.Background(), "us-west-2", from, from.Add(time.Minute)); err == nil {
		t.Error("an invocation answered 500 reported success")
	}
	if n := len(w.sent("lambda us-west-2 invoke")); n != 1 {
		t.Errorf("the replay was invoked %d times, want once", n)
	}
}
