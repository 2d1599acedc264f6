package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/scheduled"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// lostPrimary is what the secondary's probe sees once the primary is
// lost and before any failover: the primary does not answer, the
// secondary answers with a read-only database.
type lostPrimary struct{ primary string }

func (p lostPrimary) Health(_ context.Context, region string) (dr.RegionHealth, error) {
	if region == p.primary {
		return dr.RegionHealth{}, errors.New("dial tcp: i/o timeout")
	}
	return dr.RegionHealth{Region: region, Reachable: true, Status: "read_only"}, nil
}

func (lostPrimary) FailoverHealth(context.Context) (dr.RegionHealth, error) {
	return dr.RegionHealth{}, errors.New("not used")
}

type metricRecorder struct {
	in []*cloudwatch.PutMetricDataInput
}

func (m *metricRecorder) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	m.in = append(m.in, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// The secondary Region's own template holds a probe of both Regions'
// /health, a metric, an alarm and its own SNS topic; the value the probe
// publishes when the primary is lost breaches that alarm.
func TestSecondaryRegionAlarmsOnThePrimarysLossWithItsOwnTopic(t *testing.T) {
	s := synthesize(t)
	secondary := s.cfg.SecondaryRegion
	n := naming.New(s.cfg.Environment, s.cfg.DomainName)
	tpl := s.templates[secondary]

	fn := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": n.ProbeFunction(secondary)})
	env := prop(fn, "Environment", "Variables").(map[string]any)
	cfg, err := config.Parse([]byte(fmt.Sprint(env["PAYMENT_DR_CONFIG_JSON"])))
	if err != nil || cfg.Environment != s.cfg.Environment || env[naming.EvaluatorModeEnv] != naming.EvaluatorModeProbe || prop(fn, "VpcConfig") != nil {
		t.Fatalf("probe function: %v %v (in a VPC: %v)", err, env, prop(fn, "VpcConfig"))
	}
	rule := tpl.one(t, "AWS::Events::Rule", map[string]any{"Name": n.ProbeFunction(secondary)})
	if prop(rule, "ScheduleExpression") != "rate(1 minute)" || !contains(rule.Properties["Targets"], "RegionProbeFunction") {
		t.Errorf("probe schedule %v", rule.Properties)
	}
	alarm := tpl.one(t, "AWS::CloudWatch::Alarm", map[string]any{"AlarmName": n.NoWritableRegionSeenAlarm(secondary)})
	dims := jsonOf(alarm.Properties["Dimensions"])
	if alarm.Properties["Namespace"] != naming.MetricNamespace || alarm.Properties["MetricName"] != naming.WritableRegionsMetric ||
		!strings.Contains(dims, `"Name":"ObserverRegion","Value":"`+secondary+`"`) || !strings.Contains(dims, `"Value":"`+s.cfg.Environment+`"`) ||
		alarm.Properties["ComparisonOperator"] != "LessThanThreshold" || alarm.Properties["TreatMissingData"] != "breaching" {
		t.Fatalf("alarm %v", alarm.Properties)
	}
	// The alarm notifies a topic of this same template: no dependency on
	// the Region it watches.
	topics := 0
	for id, r := range tpl.Resources {
		if r.Type == "AWS::SNS::Topic" && contains(alarm.Properties["AlarmActions"], `{"Ref":"`+id+`"}`) {
			topics++
		}
	}
	if topics != 1 {
		t.Fatalf("alarm actions %v name no topic of the %s stack", alarm.Properties["AlarmActions"], secondary)
	}
	tpl.one(t, "AWS::CloudWatch::Alarm", map[string]any{"AlarmName": n.TwoWritableRegionsSeenAlarm(secondary)})

	// What the probe in the secondary publishes when the primary is lost.
	m := &metricRecorder{}
	p := &scheduled.Probe{Environment: s.cfg.Environment, Observer: secondary, Regions: s.cfg.Regions(),
		Prober: lostPrimary{primary: s.cfg.PrimaryRegion}, Metrics: m, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := m.in[0].MetricData[0]
	var published []string
	for _, dim := range d.Dimensions {
		published = append(published, fmt.Sprintf(`"Name":%q,"Value":%q`, aws.ToString(dim.Name), aws.ToString(dim.Value)))
	}
	for _, want := range published {
		if !strings.Contains(dims, want) {
			t.Errorf("the probe publishes dimension {%s}, which the alarm does not watch (%s)", want, dims)
		}
	}
	if aws.ToString(d.MetricName) != alarm.Properties["MetricName"] || aws.ToString(m.in[0].Namespace) != alarm.Properties["Namespace"] {
		t.Errorf("published %s/%s, alarm watches %v/%v", aws.ToString(m.in[0].Namespace), aws.ToString(d.MetricName), alarm.Properties["Namespace"], alarm.Properties["MetricName"])
	}
	if v, threshold := aws.ToFloat64(d.Value), alarm.Properties["Threshold"].(float64); !(v < threshold) {
		t.Errorf("the primary's loss publishes %v, which does not breach %v", v, threshold)
	}
}
