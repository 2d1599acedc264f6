// Command payments is the payment service Lambda (provided.al2023). All
// logic lives in internal/payments; this only assembles and starts it.
//
// Under Lambda (AWS_LAMBDA_RUNTIME_API set) it serves API Gateway events.
// For a local run, LISTEN_ADDR (a loopback address such as
// 127.0.0.1:8080) serves the same handler over plain HTTP instead.
package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

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
	if addr := os.Getenv("LISTEN_ADDR"); addr != "" && os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		// No schedule invokes a local run: it sweeps the journal itself.
		go app.SweepJournalEvery(context.Background(), time.Minute)
		os.Exit(serveLocal(addr, localRoutes(app), log))
	}
	lambda.Start(httpapi.LambdaHandler(app.Handler, app.Admin))
}

// Local server timeouts: a client that sends its body slowly, reads the
// reply slowly or idles on a kept-alive connection is cut off instead of
// holding a connection forever. Writing may take the handler's whole
// request time (25 s, httpapi.Handler) plus the reply.
const (
	localReadHeaderTimeout = 5 * time.Second
	localReadTimeout       = 10 * time.Second
	localWriteTimeout      = 35 * time.Second
	localIdleTimeout       = 60 * time.Second
	// A replay window reads every claim of its minutes: its answer, the
	// list of payments it completed, must not be cut off by the API's
	// write timeout, or drctl re-runs it and reports them as present.
	localReplayWriteTimeout = 5 * time.Minute
)

// withWriteTimeout gives one route a longer write deadline than the server's.
func withWriteTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}

// localRoutes adds to the API the routes drctl's lab cloud uses to replay
// the journal after a failover (the replayWindowAfter and replayJournal
// invocations on AWS).
func localRoutes(app *lambdaapp.App) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/internal/replay-journal", withWriteTimeout(app.ReplayHandler(), localReplayWriteTimeout))
	mux.Handle("/internal/replay-window", app.ReplayWindowHandler())
	mux.Handle("/", app.Handler)
	return mux
}

// serveLocal serves h over HTTP on a loopback address (never a public one:
// there is no TLS here).
func serveLocal(addr string, h http.Handler, log *slog.Logger) int {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		log.Error("LISTEN_ADDR must be a loopback host:port such as 127.0.0.1:8080", "addr", addr)
		return 1
	}
	// The request id of the logs is the client's X-Request-Id here.
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: localReadHeaderTimeout,
		ReadTimeout: localReadTimeout, WriteTimeout: localWriteTimeout, IdleTimeout: localIdleTimeout}
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("listen", "error", err.Error())
	}
	return 1
}
