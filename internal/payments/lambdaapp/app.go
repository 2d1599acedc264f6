// Package lambdaapp assembles the payment service from the Lambda
// environment: configuration from variables, credentials from Secrets
// Manager (never from the environment), AWS clients with bounded retries.
package lambdaapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// Env is the service's configuration, read from the environment.
type Env struct {
	Region         string // AWS_REGION
	SessionTable   string // SESSION_TABLE
	EventBus       string // EVENT_BUS_NAME
	DBHost         string // DB_HOST
	DBPort         int    // DB_PORT (default 3306)
	DBName         string // DB_NAME
	DBSecretID     string // DB_SECRET_ID: JSON {"username","password"}
	APIKeySecretID string // API_KEY_SECRET_ID
	// DBTLS is "verify" (default: TLS, server certificate checked against
	// DB_TLS_CA_FILE or the system roots) or "off", accepted only for a
	// loopback DB_HOST (local runs and benchmarks).
	DBTLS       string
	DBTLSCAFile string // DB_TLS_CA_FILE, e.g. the RDS CA bundle shipped in the package
}

// FromEnv reads and validates Env; every problem names its variable.
func FromEnv(getenv func(string) string) (Env, error) {
	e := Env{
		Region: getenv("AWS_REGION"), SessionTable: getenv("SESSION_TABLE"), EventBus: getenv("EVENT_BUS_NAME"),
		DBHost: getenv("DB_HOST"), DBName: getenv("DB_NAME"), DBSecretID: getenv("DB_SECRET_ID"),
		APIKeySecretID: getenv("API_KEY_SECRET_ID"), DBTLS: getenv("DB_TLS"), DBTLSCAFile: getenv("DB_TLS_CA_FILE"), DBPort: 3306,
	}
	var errs []error
	for name, v := range map[string]string{"AWS_REGION": e.Region, "SESSION_TABLE": e.SessionTable, "EVENT_BUS_NAME": e.EventBus,
		"DB_HOST": e.DBHost, "DB_NAME": e.DBName, "DB_SECRET_ID": e.DBSecretID, "API_KEY_SECRET_ID": e.APIKeySecretID} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if p := getenv("DB_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("DB_PORT %q is not a TCP port", p))
		}
		e.DBPort = n
	}
	switch e.DBTLS {
	case "", "verify":
		e.DBTLS = "verify"
	case "off":
		if ip := net.ParseIP(e.DBHost); e.DBHost != "localhost" && (ip == nil || !ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("DB_TLS=off is allowed only for a loopback DB_HOST, not %q", e.DBHost))
		}
	default:
		errs = append(errs, fmt.Errorf("DB_TLS must be verify or off, not %q", e.DBTLS))
	}
	return e, errors.Join(errs...)
}

// App is the assembled service.
type App struct {
	Handler *httpapi.Handler
	DB      *sql.DB
}

// New builds the service: it loads the two secrets concurrently (the only
// round trips at start), opens the database pool lazily and configures
// the AWS clients' retries (3 attempts, jittered backoff up to 1 s).
func New(ctx context.Context, e Env, log *slog.Logger) (*App, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(e.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.MaxBackoff = time.Second
			})
		}))
	if err != nil {
		return nil, fmt.Errorf("AWS config: %w", err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	type result struct {
		v   string
		err error
	}
	dbSecret, apiKey := make(chan result, 1), make(chan result, 1)
	get := func(id string, out chan<- result) {
		o, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			out <- result{err: fmt.Errorf("secret %s: %w", id, err)}
			return
		}
		out <- result{v: aws.ToString(o.SecretString)}
	}
	go get(e.DBSecretID, dbSecret)
	go get(e.APIKeySecretID, apiKey)
	dbs, key := <-dbSecret, <-apiKey
	if err := errors.Join(dbs.err, key.err); err != nil {
		return nil, err
	}
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(dbs.v), &creds); err != nil || creds.Username == "" || creds.Password == "" {
		return nil, fmt.Errorf("secret %s: want JSON with username and password", e.DBSecretID)
	}
	if key.v == "" {
		return nil, fmt.Errorf("secret %s is empty", e.APIKeySecretID)
	}

	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = creds.Username, creds.Password, "tcp", net.JoinHostPort(e.DBHost, strconv.Itoa(e.DBPort)), e.DBName
	if e.DBTLS == "verify" {
		tc, err := tlsConfig(e)
		if err != nil {
			return nil, err
		}
		if err := mysql.RegisterTLSConfig("payments", tc); err != nil {
			return nil, err
		}
		mc.TLSConfig = "payments"
	}
	db, err := mysqlstore.Open(mc.FormatDSN())
	if err != nil {
		return nil, err
	}

	svc := &payments.Service{
		Store:    mysqlstore.New(db),
		Sessions: &dynamo.Sessions{Client: dynamodb.NewFromConfig(cfg), Table: e.SessionTable},
		Events:   &eventbus.Publisher{Client: eventbridge.NewFromConfig(cfg), Bus: e.EventBus, Region: e.Region},
		Region:   e.Region,
		OnAfterCommitError: func(p payments.Payment, what string, err error) {
			log.Error("after-commit write failed; the payment stands", "paymentId", p.ID, "what", what, "error", err.Error())
		},
	}
	return &App{Handler: &httpapi.Handler{Service: svc, APIKey: key.v, Log: log}, DB: db}, nil
}

func tlsConfig(e Env) (*tls.Config, error) {
	tc := &tls.Config{ServerName: e.DBHost, MinVersion: tls.VersionTLS12}
	if e.DBTLSCAFile != "" {
		pem, err := os.ReadFile(e.DBTLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("DB_TLS_CA_FILE: %w (ship the RDS CA bundle in the package; see README)", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("DB_TLS_CA_FILE %s holds no PEM certificate", e.DBTLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Admin handles direct invocations ({"migrate": true}).
func (a *App) Admin(ctx context.Context, inv httpapi.Invocation) (any, error) {
	if !inv.Migrate {
		return nil, errors.New(`unknown invocation: send {"migrate": true}`)
	}
	applied, err := mysqlstore.Migrate(ctx, a.DB)
	if err != nil {
		return nil, err
	}
	return map[string]any{"applied": applied}, nil
}
