package scheduled

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// ProbeTimeout bounds each /health call: a Region that does not answer in
// it counts as not writable.
const ProbeTimeout = 5 * time.Second

// Probe is the detection that survives the Region it watches: deployed in
// every Region, it calls every Region's /health from outside (the public
// Regional names, as Route 53 does) and publishes, in its own Region, how
// many report a writable database. The alarms on that metric live in the
// same Region, so the loss of the other Region (us-east-1, where Route 53's
// own metrics are) is still noticed and notified.
type Probe struct {
	Environment string
	// Observer is the Region the probe runs in (the metric's dimension).
	Observer string
	Regions  []string
	Prober   dr.Prober
	Metrics  Metrics
	Log      *slog.Logger
}

// ProbeResult is what one probe saw.
type ProbeResult struct {
	Environment string            `json:"environment"`
	Observer    string            `json:"observer"`
	Writable    []string          `json:"writable"`
	Seen        map[string]string `json:"seen"` // Region -> what /health said
}

// Run probes every Region in parallel and publishes the count.
func (p *Probe) Run(ctx context.Context) (ProbeResult, error) {
	r := ProbeResult{Environment: p.Environment, Observer: p.Observer, Writable: []string{}, Seen: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, region := range p.Regions {
		wg.Go(func() {
			hctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
			defer cancel()
			h, err := p.Prober.Health(hctx, region)
			seen := "writable"
			switch {
			case err != nil:
				seen = "no answer: " + err.Error()
			case !h.Reachable:
				seen = "no answer"
			case !h.DBWritable:
				seen = "not writable (" + h.Status + ")"
			case !h.TakesPayments():
				seen = "writable, but the journal's writer is " + h.Writer
			}
			mu.Lock()
			defer mu.Unlock()
			r.Seen[region] = seen
			if seen == "writable" {
				r.Writable = append(r.Writable, region)
			}
		})
	}
	wg.Wait()
	slices.Sort(r.Writable)
	b, _ := json.Marshal(r)
	p.Log.Info("probe", "result", json.RawMessage(b))
	_, err := p.Metrics.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(naming.MetricNamespace),
		MetricData: []types.MetricDatum{{
			MetricName: aws.String(naming.WritableRegionsMetric), Value: aws.Float64(float64(len(r.Writable))), Unit: types.StandardUnitCount,
			Dimensions: []types.Dimension{
				{Name: aws.String(naming.EnvironmentDimension), Value: aws.String(p.Environment)},
				{Name: aws.String(naming.ObserverRegionDimension), Value: aws.String(p.Observer)},
			},
		}},
	})
	return r, err
}
