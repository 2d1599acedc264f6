// Command drctl-action is the ARC Region switch plan's custom-action
// function: ARC invokes it with the execution's metadata (package action)
// and it runs the step with drctl's own step code against AWS. The
// environment's configuration arrives as JSON in naming.DRConfigEnv,
// written by the stack from the same validated config.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/action"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/dr/lambdaenv"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// journalDir is the sandbox's copy of the execution's journal; the
// mirror in the session table is the one that outlives the sandbox.
const journalDir = "/tmp/drctl-action"

func main() {
	log, cfg, awsCfg := lambdaenv.Load()
	cloud := awsops.New(cfg, awsCfg)
	h := &action.Handler{
		// Reconcile: rejoin's compare-data reads the old primary's kept data.
		Controller: &dr.Controller{Cfg: cfg, Cloud: cloud, Reconcile: cloud.ReconcileData, Log: os.Stderr},
		Executions: awsops.NewRegionSwitch(cfg, awsCfg, awsCfg.Region),
		Dir:        journalDir,
		Mirror:     func(target string) runlog.Mirror { return cloud.JournalMirror(target) },
	}
	lambda.Start(func(ctx context.Context, ev action.Event) (action.Result, error) {
		res, err := h.Handle(ctx, ev)
		if err != nil {
			log.Error("step", "event", ev, "result", res, "error", err.Error())
			return res, err
		}
		log.Info("step", "event", ev, "result", res, "summary", res.Summary())
		return res, nil
	})
}
