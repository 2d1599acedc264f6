package scheduled

import (
	"context"
	"io"
	"log/slog"
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
