package scheduled

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
)

type recorder struct {
	in []*cloudwatch.PutMetricDataInput
}

func (r *recorder) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	r.in = append(r.in, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

func TestPublishesTheFindingCount(t *testing.T) {
	cfg := config.Default()
	cfg.Environment, cfg.DomainName, cfg.AlarmEmail = "dev", "example.com", "a@example.com"
	w := drfake.NewWorld()
	m := &recorder{}
	e := &Evaluator{Controller: &dr.Controller{Cfg: cfg, Cloud: w, Poll: time.Millisecond}, Metrics: m, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	r, err := e.Run(context.Background())
	if err != nil || !r.Ready || aws.ToFloat64(m.in[0].MetricData[0].Value) != 0 {
		t.Fatalf("healthy: %+v %v", r, err)
	}
	w.Denied = []string{"rds:FailoverGlobalCluster"}
	w.Lag["us-west-2"] = time.Hour
	r, err = e.Run(context.Background())
	d := m.in[1].MetricData[0]
	if err != nil || r.Ready || aws.ToFloat64(d.Value) != 2 || aws.ToString(d.MetricName) != MetricName ||
		aws.ToString(m.in[1].Namespace) != MetricNamespace || aws.ToString(d.Dimensions[0].Value) != "dev" {
		t.Fatalf("with findings: %+v %v %+v", r, err, d)
	}
}

// The probe counts the Regions whose /health reports a writable database:
// one in normal operation, none when the writer's Region is lost, and it
// says what it saw of each.
func TestProbeCountsWritableRegions(t *testing.T) {
	w := drfake.NewWorld()
	m := &recorder{}
	p := &Probe{Environment: "dev", Observer: "us-west-2", Regions: []string{"us-east-1", "us-west-2"}, Prober: w, Metrics: m, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	r, err := p.Run(context.Background())
	if err != nil || len(r.Writable) != 1 || r.Writable[0] != "us-east-1" || aws.ToFloat64(m.in[0].MetricData[0].Value) != 1 {
		t.Fatalf("normal operation: %+v %v", r, err)
	}
	w.Down["us-east-1"] = true
	r, err = p.Run(context.Background())
	d := m.in[1].MetricData[0]
	if err != nil || len(r.Writable) != 0 || aws.ToFloat64(d.Value) != 0 || aws.ToString(d.Dimensions[1].Value) != "us-west-2" ||
		!strings.HasPrefix(r.Seen["us-east-1"], "no answer") || !strings.HasPrefix(r.Seen["us-west-2"], "not writable") {
		t.Fatalf("primary lost: %+v %v %+v", r, err, d)
	}
}
