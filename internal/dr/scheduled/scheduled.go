// Package scheduled runs drctl's evaluate inside AWS on a schedule: each
// run publishes the number of findings as a CloudWatch metric (an alarm
// fires when it is above zero) and logs the findings as JSON.
package scheduled

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// MetricNamespace and MetricName are what the evaluate alarm watches.
const (
	MetricNamespace = naming.MetricNamespace
	MetricName      = naming.EvaluateFindingsMetric
)

// Metrics is the part of the CloudWatch client the evaluator uses.
type Metrics interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Evaluator runs one evaluation.
type Evaluator struct {
	Controller *dr.Controller
	Metrics    Metrics
	Log        *slog.Logger
}

// Result is what the function returns (and logs).
type Result struct {
	Environment string       `json:"environment"`
	Ready       bool         `json:"ready"`
	Findings    []dr.Finding `json:"findings"`
}

// Run evaluates and publishes the finding count. Publishing failures are
// returned so the invocation errors and Lambda's own Errors metric shows it.
func (e *Evaluator) Run(ctx context.Context) (Result, error) {
	f := e.Controller.Evaluate(ctx)
	r := Result{Environment: e.Controller.Cfg.Environment, Ready: len(f) == 0, Findings: f}
	if r.Findings == nil {
		r.Findings = []dr.Finding{}
	}
	b, _ := json.Marshal(r)
	e.Log.Info("evaluate", "result", json.RawMessage(b))
	_, err := e.Metrics.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(MetricNamespace),
		MetricData: []types.MetricDatum{{
			MetricName: aws.String(MetricName), Value: aws.Float64(float64(len(f))), Unit: types.StandardUnitCount,
			Dimensions: []types.Dimension{{Name: aws.String(naming.EnvironmentDimension), Value: aws.String(r.Environment)}},
		}},
	})
	return r, err
}
