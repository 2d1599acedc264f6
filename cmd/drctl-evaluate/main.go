// Command drctl-evaluate is drctl's evaluate as a scheduled Lambda, or,
// with DRCTL_EVALUATE_MODE=probe, the per-Region probe of every Region's
// /health (package scheduled). The
// environment's configuration arrives as JSON in naming.DRConfigEnv
// (written by the stack from the same validated config); permissions are
// simulated for the DR role named in DR_ROLE_ARN.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/dr/lambdaenv"
	"github.com/payment-dr/payment-dr/internal/dr/scheduled"
	"github.com/payment-dr/payment-dr/internal/naming"
)

func main() {
	log, cfg, awsCfg := lambdaenv.Load()
	cloud := awsops.New(cfg, awsCfg)
	metrics := cloudwatch.NewFromConfig(awsCfg)
	if os.Getenv(naming.EvaluatorModeEnv) == naming.EvaluatorModeProbe {
		p := &scheduled.Probe{Environment: cfg.Environment, Observer: awsCfg.Region, Regions: cfg.Regions(), Prober: cloud, Metrics: metrics, Log: log}
		lambda.Start(p.Run)
		return
	}
	cloud.SimulateARN = os.Getenv("DR_ROLE_ARN")
	e := &scheduled.Evaluator{
		Controller: &dr.Controller{Cfg: cfg, Cloud: cloud},
		Metrics:    metrics,
		Log:        log,
	}
	lambda.Start(e.Run)
}
