// Package lambdaenv is what drctl's functions in AWS start with: a JSON
// logger, the environment's configuration from naming.DRConfigEnv and the
// AWS configuration with every call bounded as drctl bounds its own.
package lambdaenv

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// Load returns the logger and both configurations, or logs why not and
// exits: a function without them can do nothing.
func Load() (*slog.Logger, config.Config, aws.Config) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.Parse([]byte(os.Getenv(naming.DRConfigEnv)))
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	// The function's own Region is read first; every call is bounded.
	return log, cfg, awsops.Bounded(awsCfg, awsops.AttemptTimeout, awsops.MaxBackoff)
}
