// Command payments is the payment service Lambda (provided.al2023). All
// logic lives in internal/payments; this only assembles and starts it.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/lambdaapp"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	env, err := lambdaapp.FromEnv(os.Getenv)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	log = log.With("region", env.Region, "environment", env.Environment)
	app, err := lambdaapp.New(context.Background(), env, log)
	if err != nil {
		log.Error("start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(httpapi.LambdaHandler(app.Handler, app.Admin))
}
