package awsops

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// wireRecorder keeps the form of every query-protocol request (RDS, IAM,
// STS) as the SDK put it on the wire, then forwards it.
type wireRecorder struct {
	mu    sync.Mutex
	forms []url.Values
}

func (w *wireRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		w.forms = append(w.forms, form)
		w.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (w *wireRecorder) sent(action string) []url.Values {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []url.Values
	for _, f := range w.forms {
		if f.Get("Action") == action {
			out = append(out, f)
		}
	}
	return out
}

// FailoverGlobalCluster (RDS API reference): AllowDataLoss=true makes it
// a failover that may lose the writes not yet replicated; without it
// the operation is a switchover, which loses none. A failover that does
// not allow data loss must not send it, one that does must send it, in
// the query protocol's form parameters. Driven through the controller's
// plan, so the flag is followed from the command to the wire.
func TestFailoverSendsAllowDataLossOnlyWhenAllowedOnTheWire(t *testing.T) {
	for _, allow := range []bool{false, true} {
		rec := &wireRecorder{}
		a, w := startWorldWith(t, now, func(c *aws.Config) { c.HTTPClient = &http.Client{Transport: rec, Timeout: 5 * time.Second} })
		c := &dr.Controller{Cfg: testConfig(), Cloud: a, Poll: time.Millisecond}
		run, err := runlog.Create(t.TempDir(), runlog.Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Target: "us-west-2", Env: "dev", Created: now})
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if err := plan.Execute(context.Background(), c.Failover("us-west-2", allow), run, nil, &log); err != nil {
			t.Fatalf("allowDataLoss=%v: %v\n%s", allow, err, log.String())
		}
		if w.writer != "us-west-2" {
			t.Fatalf("allowDataLoss=%v: writer %s", allow, w.writer)
		}
		forms := rec.sent("FailoverGlobalCluster")
		if len(forms) != 1 {
			t.Fatalf("allowDataLoss=%v: %d FailoverGlobalCluster requests", allow, len(forms))
		}
		f := forms[0]
		if f.Get("GlobalClusterIdentifier") != "payments-global-dev" || f.Get("TargetDbClusterIdentifier") != "arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev" {
			t.Errorf("allowDataLoss=%v: form %v", allow, f)
		}
		switch got, present := f.Get("AllowDataLoss"), f.Has("AllowDataLoss"); {
		case allow && got != "true":
			t.Errorf("a failover allowing data loss sent AllowDataLoss=%q (present %v)", got, present)
		case !allow && got == "true":
			t.Errorf("a failover without data loss sent AllowDataLoss=true: %v", f)
		}
		if f.Get("Switchover") == "true" { // cannot be combined with AllowDataLoss
			t.Errorf("allowDataLoss=%v: Switchover sent: %v", allow, f)
		}
	}
}
