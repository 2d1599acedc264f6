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
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/dynamo"
	"github.com/payment-dr/payment-dr/internal/payments/eventbus"
	"github.com/payment-dr/payment-dr/internal/payments/httpapi"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
)

// Env is the service's configuration, read from the environment.
type Env struct {
	Environment  string // ENVIRONMENT (the deployment's name; logged)
	Region       string // AWS_REGION
	SessionTable string // SESSION_TABLE
	EventBus     string // EVENT_BUS_NAME
	DBHost       string // DB_HOST
	DBPort       int    // DB_PORT (default 3306)
	DBName       string // DB_NAME
	DBSecretID   string // DB_SECRET_ID: JSON {"username","password"}
	// AppDBSecretID (APP_DB_SECRET_ID) is set only on the migration
	// function, whose DB_SECRET_ID is the master secret: {"migrate": true}
	// creates or updates the application user with this secret's
	// username and password. The payment function has neither.
	AppDBSecretID string
	// AppDBUserHost (APP_DB_USER_HOST) is the host part of the application
	// user's account; default "%" (Aurora: any client in the VPC). Local
	// servers use the loopback address.
	AppDBUserHost  string
	APIKeySecretID string // API_KEY_SECRET_ID
	// DBTLS is "verify" (default: TLS, server certificate checked against
	// DB_TLS_CA_FILE or the system roots) or "off", accepted only for a
	// loopback DB_HOST (local runs and benchmarks).
	DBTLS       string
	DBTLSCAFile string // DB_TLS_CA_FILE, e.g. the RDS CA bundle shipped in the package
	// DBDSN (DB_DSN) replaces DB_HOST, DB_PORT, DB_NAME and DB_SECRET_ID for
	// local runs and tests: a go-sql-driver DSN. It carries a password in
	// the environment, so it is accepted only for a loopback address or a
	// unix socket; a deployed function always reads DB_SECRET_ID.
	DBDSN string
	// JournalTable (JOURNAL_TABLE) is the payment journal, the MRSC table
	// every key is claimed in before its payment commits; required unless
	// DB_DSN is set (a local run without the journal).
	JournalTable string
	// JournalEndpoint (JOURNAL_ENDPOINT) is a loopback DynamoDB endpoint
	// serving the journal (the DR lab's stand-in); empty on AWS.
	JournalEndpoint string
	// JournalRetention (JOURNAL_RETENTION, a Go duration, at least 1h):
	// how long claims are kept; default payments.DefaultJournalRetention.
	JournalRetention time.Duration
	// ClockOffset (LAB_CLOCK_OFFSET, a Go duration within ±24h) shifts the
	// service's clock: the DR lab's clock-offset fault. Accepted only with
	// DB_DSN (local runs); a deployed function keeps Lambda's clock.
	ClockOffset time.Duration
}

// FromEnv reads and validates Env; every problem names its variable.
func FromEnv(getenv func(string) string) (Env, error) {
	e := Env{
		Environment: getenv("ENVIRONMENT"), Region: getenv("AWS_REGION"), SessionTable: getenv("SESSION_TABLE"), EventBus: getenv("EVENT_BUS_NAME"),
		DBHost: getenv("DB_HOST"), DBName: getenv("DB_NAME"), DBSecretID: getenv("DB_SECRET_ID"),
		APIKeySecretID: getenv("API_KEY_SECRET_ID"), DBTLS: getenv("DB_TLS"), DBTLSCAFile: getenv("DB_TLS_CA_FILE"), DBPort: 3306,
		DBDSN: getenv("DB_DSN"), AppDBSecretID: getenv("APP_DB_SECRET_ID"), AppDBUserHost: getenv("APP_DB_USER_HOST"),
		JournalTable: getenv(naming.JournalTableEnv), JournalEndpoint: getenv(naming.JournalEndpointEnv),
	}
	var errs []error
	required := map[string]string{"AWS_REGION": e.Region, "SESSION_TABLE": e.SessionTable, "EVENT_BUS_NAME": e.EventBus,
		"API_KEY_SECRET_ID": e.APIKeySecretID}
	if e.DBDSN == "" {
		required["DB_HOST"], required["DB_NAME"], required["DB_SECRET_ID"] = e.DBHost, e.DBName, e.DBSecretID
	}
	if e.DBDSN == "" && e.AppDBSecretID == "" { // a deployed payment function (not the migration function)
		required[naming.JournalTableEnv] = e.JournalTable
	}
	for _, name := range []string{"AWS_REGION", "SESSION_TABLE", "EVENT_BUS_NAME", "DB_HOST", "DB_NAME", "DB_SECRET_ID", "API_KEY_SECRET_ID", naming.JournalTableEnv} {
		if v, ok := required[name]; ok && v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if e.DBDSN != "" {
		cfg, err := mysql.ParseDSN(e.DBDSN)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("DB_DSN: %v", err)) // not %w: the message must not echo the DSN's password
		case cfg.Net != "unix" && !loopback(hostOf(cfg.Addr)):
			errs = append(errs, fmt.Errorf("DB_DSN is allowed only for a loopback address or unix socket, not %q: use DB_HOST and DB_SECRET_ID", hostOf(cfg.Addr)))
		case cfg.DBName == "":
			errs = append(errs, errors.New("DB_DSN must name the database (.../payments)"))
		}
	}
	if p := getenv("DB_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("DB_PORT %q is not a TCP port", p))
		}
		e.DBPort = n
	}
	errs = append(errs, e.journalEnv(getenv)...)
	errs = append(errs, e.clockEnv(getenv)...)
	switch e.DBTLS {
	case "", "verify":
		e.DBTLS = "verify"
	case "off":
		if e.DBDSN == "" && !loopback(e.DBHost) {
			errs = append(errs, fmt.Errorf("DB_TLS=off is allowed only for a loopback DB_HOST, not %q", e.DBHost))
		}
	default:
		errs = append(errs, fmt.Errorf("DB_TLS must be verify or off, not %q", e.DBTLS))
	}
	return e, errors.Join(errs...)
}

// journalEnv checks JOURNAL_ENDPOINT and reads JOURNAL_RETENTION.
func (e *Env) journalEnv(getenv func(string) string) []error {
	var errs []error
	if e.JournalEndpoint != "" {
		u, err := url.Parse(e.JournalEndpoint)
		switch {
		case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL such as http://127.0.0.1:8000", naming.JournalEndpointEnv, e.JournalEndpoint))
		case !loopback(u.Hostname()):
			errs = append(errs, fmt.Errorf("%s is allowed only for a loopback endpoint (the lab's journal), not %q: on AWS leave it unset", naming.JournalEndpointEnv, u.Hostname()))
		case e.JournalTable == "":
			errs = append(errs, fmt.Errorf("%s is set but %s is not: name the journal table", naming.JournalEndpointEnv, naming.JournalTableEnv))
		}
	}
	if v := getenv("JOURNAL_RETENTION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			errs = append(errs, fmt.Errorf("JOURNAL_RETENTION %q must be a duration of at least 1h, such as 168h", v))
		}
		e.JournalRetention = d
	}
	return errs
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// App is the assembled service.
type App struct {
	Handler *httpapi.Handler
	DB      *sql.DB
	env     Env
	secrets *secretsmanager.Client
	stop    context.CancelFunc
	log     *slog.Logger
}

// New builds the service: it loads the two secrets concurrently (the only
// round trips at start), opens the database pool and configures the AWS
// clients' retries (AWSConfig).
func New(ctx context.Context, e Env, log *slog.Logger) (*App, error) {
	cfg, err := AWSConfig(ctx, e.Region)
	if err != nil {
		return nil, err
	}
	jr := newJournal(cfg, e)
	journalWarm := warmJournal(ctx, jr)
	sm := secretsmanager.NewFromConfig(cfg)
	type result struct {
		v   string
		err error
	}
	get := func(id string) <-chan result {
		out := make(chan result, 1)
		go func() {
			o, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				out <- result{err: fmt.Errorf("secret %s: %w", id, err)}
				return
			}
			out <- result{v: aws.ToString(o.SecretString)}
		}()
		return out
	}
	// Both secrets are fetched concurrently, once per instance.
	apiKey := get(e.APIKeySecretID)
	dsn := e.DBDSN
	if dsn == "" {
		dbs := <-get(e.DBSecretID)
		if dbs.err != nil {
			return nil, dbs.err
		}
		if dsn, err = e.secretDSN(dbs.v); err != nil {
			return nil, err
		}
	}
	db, err := mysqlstore.Open(dsn)
	if err != nil {
		return nil, err
	}
	// The first connection (TCP, TLS, authentication) is opened while the
	// API key is still in flight, so the first request finds it idle. A
	// database that is down now is not fatal: /health must still answer.
	store := mysqlstore.New(db)
	warm := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		warm <- store.Warm(wctx)
	}()
	key := <-apiKey
	if werr := <-warm; werr != nil {
		log.Warn("database not reachable at start; requests will retry", "error", werr.Error())
	}
	if jerr := <-journalWarm; jerr != nil {
		log.Warn("payment journal not reachable at start; payments answer 503 until it is", "error", jerr.Error())
	}
	if key.err != nil {
		db.Close()
		return nil, key.err
	}
	if key.v == "" {
		db.Close()
		return nil, fmt.Errorf("secret %s is empty", e.APIKeySecretID)
	}

	svc := newService(cfg, e, store, jr, log)
	// Sweeps run while the instance runs (under Lambda: during
	// invocations), besides the scheduled sweep invocation.
	sweeps, stop := context.WithCancel(context.Background())
	go svc.Outbox.Run(sweeps, SweepInterval)
	if jr != nil {
		go svc.MarkWriterEvery(sweeps, payments.WriterMarkEvery, func(err error) {
			log.Warn("writer mark failed; the next one follows", "error", err.Error())
		})
	}
	return &App{Handler: &httpapi.Handler{Service: svc, APIKey: key.v, Log: log}, DB: db, env: e, secrets: sm, stop: stop, log: log}, nil
}

// Close stops the outbox sweeps and closes the database pool.
func (a *App) Close() error {
	a.stop()
	return a.DB.Close()
}

// newService wires the domain to its adapters.
func newService(cfg aws.Config, e Env, store *mysqlstore.Store, jr payments.Journal, log *slog.Logger) *payments.Service {
	return &payments.Service{
		Store:    store,
		Sessions: &dynamo.Sessions{Client: dynamodb.NewFromConfig(cfg), Table: e.SessionTable},
		Outbox: &payments.Relay{
			Store:  store,
			Events: &eventbus.Publisher{Client: eventbridge.NewFromConfig(cfg), Bus: e.EventBus, Region: e.Region},
			OnError: func(what string, ids []string, err error) {
				log.Warn("outbox: "+what+" failed; the events stay in the outbox", "paymentIds", ids, "error", err.Error())
			},
		},
		Region: e.Region,
		OnAfterCommitError: func(p payments.Payment, what string, err error) {
			log.Error("after-commit write failed; the payment stands", "paymentId", p.ID, "what", what, "error", err.Error())
		},
		Journal:          jr,
		JournalRetention: e.JournalRetention,
		Now:              e.clock(),
	}
}

// maxClockOffset bounds LAB_CLOCK_OFFSET.
const maxClockOffset = 24 * time.Hour

func (e *Env) clockEnv(getenv func(string) string) []error {
	v := getenv(naming.LabClockOffsetEnv)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return []error{fmt.Errorf("%s %q: want a Go duration such as 30s or -2m", naming.LabClockOffsetEnv, v)}
	case d.Abs() > maxClockOffset:
		return []error{fmt.Errorf("%s %s: want at most %s either way", naming.LabClockOffsetEnv, d, maxClockOffset)}
	case e.DBDSN == "":
		return []error{fmt.Errorf("%s is accepted only for a local run (with DB_DSN): a deployed function keeps Lambda's clock", naming.LabClockOffsetEnv)}
	}
	e.ClockOffset = d
	return nil
}

// clock is the service's clock: nil (the wall clock) unless offset.
func (e Env) clock() func() time.Time {
	if e.ClockOffset == 0 {
		return nil
	}
	off := e.ClockOffset
	return func() time.Time { return time.Now().Add(off) }
}

// journalWarmConnections is how many connections to the journal's
// endpoint are opened at start: a claim writes two items in parallel.
const journalWarmConnections = 2

// warmJournal opens the journal's connections (TCP and, on AWS, TLS) while
// the secrets are in flight, with as many concurrent strongly consistent
// reads, so the first payment's claim finds them idle. A journal that
// does not answer now is not fatal: /health reports it.
func warmJournal(ctx context.Context, jr payments.Journal) <-chan error {
	out := make(chan error, 1)
	if jr == nil {
		out <- nil
		return out
	}
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		wctx = httptrace.WithClientTrace(wctx, holdConnections(journalWarmConnections, warmHold))
		errs := make(chan error, journalWarmConnections)
		for range journalWarmConnections {
			go func() { _, _, err := jr.Writer(wctx); errs <- err }()
		}
		var err error
		for range journalWarmConnections {
			err = errors.Join(err, <-errs)
		}
		out <- err
	}()
	return out
}

// warmHold bounds how long a warming read keeps its connection waiting
// for the others to have theirs.
const warmHold = 500 * time.Millisecond

// holdConnections makes each of n requests keep the connection it got
// until all n have one (or hold passed): a request that finished first
// would hand its connection to the next, and fewer would be opened.
func holdConnections(n int32, hold time.Duration) *httptrace.ClientTrace {
	var got atomic.Int32
	all := make(chan struct{})
	return &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		if got.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(hold):
		}
	}}
}

// newJournal is the journal's client (nil without JOURNAL_TABLE). Its
// calls share the bounded retries of every AWS call; a write conflict
// between Regions is retried by the journal itself.
func newJournal(cfg aws.Config, e Env) payments.Journal {
	if e.JournalTable == "" {
		return nil
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if e.JournalEndpoint != "" {
			o.BaseEndpoint = aws.String(e.JournalEndpoint)
		}
	})
	return paymentclaims.Journal{J: &claims.Journal{Client: client, Table: e.JournalTable}}
}

// SweepInterval is how often an instance sweeps the outbox.
const SweepInterval = 5 * time.Second

// Retry bounds of every AWS call: a throttled, failed (5xx, connection)
// or timed-out attempt is retried with jittered exponential backoff, at
// most AWSAttempts attempts of AWSAttemptTimeout each. The worst case,
// about 3 × 2 s + 2 × 1 s, stays well inside the request's 25 s.
const (
	AWSAttempts       = 3
	AWSAttemptTimeout = 2 * time.Second
	AWSMaxBackoff     = time.Second
)

// AWSConfig loads the SDK configuration (credentials from the Lambda
// environment; AWS_ENDPOINT_URL_* honoured by the SDK itself) with the
// bounded retryer and a per-attempt timeout, so a hung call is retried
// instead of holding the request.
func AWSConfig(ctx context.Context, region string) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region),
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(AWSAttemptTimeout)),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = AWSAttempts
				o.MaxBackoff = AWSMaxBackoff
			})
		}))
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS config: %w", err)
	}
	return cfg, nil
}

// secretDSN builds the DSN from the DB secret (JSON username/password)
// and DB_HOST, DB_PORT, DB_NAME, with TLS unless DB_TLS=off (loopback).
func (e Env) secretDSN(secret string) (string, error) {
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(secret), &creds); err != nil || creds.Username == "" || creds.Password == "" {
		return "", fmt.Errorf("secret %s: want JSON with username and password", e.DBSecretID)
	}
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = creds.Username, creds.Password, "tcp", net.JoinHostPort(e.DBHost, strconv.Itoa(e.DBPort)), e.DBName
	if e.DBTLS == "verify" {
		tc, err := tlsConfig(e)
		if err != nil {
			return "", err
		}
		if err := mysql.RegisterTLSConfig("payments", tc); err != nil {
			return "", err
		}
		mc.TLSConfig = "payments"
	}
	return mc.FormatDSN(), nil
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

// Admin handles direct invocations.
func (a *App) Admin(ctx context.Context, inv httpapi.Invocation) (any, error) {
	n := 0
	for _, set := range []bool{inv.Migrate, inv.SweepOutbox, inv.ReplayJournal != nil, inv.ReplayWindowAfter != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New(`send one of {"migrate": true}, {"sweepOutbox": true}, {"replayWindowAfter": {...}} or {"replayJournal": {...}}, not several`)
	case inv.ReplayJournal != nil:
		return a.replay(ctx, *inv.ReplayJournal)
	case inv.ReplayWindowAfter != nil:
		return a.Handler.Service.ReplayWindowAfter(ctx, inv.ReplayWindowAfter.OldRegion)
	case inv.SweepOutbox:
		return a.sweep(ctx)
	case !inv.Migrate:
		return nil, errors.New(`unknown invocation: send {"migrate": true}, {"sweepOutbox": true}, {"replayWindowAfter": {"oldRegion": "<region>"}} or {"replayJournal": {"from": "<RFC 3339>", "to": "<RFC 3339>"}}`)
	case a.env.AppDBSecretID == "":
		return nil, fmt.Errorf("this function connects as the application user and cannot migrate: invoke the migration function %s, "+
			"whose APP_DB_SECRET_ID names the application user's secret", naming.New(a.env.Environment, "").MigrateFunction(a.env.Region))
	}
	user, err := a.appUser(ctx)
	if err != nil {
		return nil, err
	}
	applied, err := mysqlstore.Migrate(ctx, a.DB)
	if err != nil {
		return map[string]any{"applied": applied}, err
	}
	if err := mysqlstore.EnsureAppUser(ctx, a.DB, user); err != nil {
		return map[string]any{"applied": applied}, err
	}
	return map[string]any{"applied": applied, "appUser": user.Name}, nil
}

// sweep publishes the outbox's due events, then removes the journal's
// expired claims with the invocation's remaining time (in the Region
// whose database is writable: SweepJournal). The outbox goes first: its
// events are due now, while expired claims can wait for the next minute,
// and a journal sweep that is slow or failing must not hold them back.
func (a *App) sweep(ctx context.Context) (any, error) {
	svc := a.Handler.Service
	out := map[string]any{}
	sent, err := svc.Outbox.Sweep(ctx)
	out["published"] = sent
	readOnly := errors.Is(err, payments.ErrReadOnly)
	if readOnly {
		// The secondary's database is read-only: nothing of its own to
		// publish (the writer's Region sweeps), which is not an error.
		out["readOnly"], err = true, nil
	}
	if svc.Journal == nil {
		return out, err
	}
	out["claimsRemoved"] = 0
	if readOnly {
		return out, err
	}
	if err := svc.MarkWriter(ctx); err != nil && !errors.Is(err, payments.ErrReadOnly) {
		a.log.Warn("writer mark failed", "error", err.Error())
	}
	removed, jerr := svc.SweepJournal(ctx)
	out["claimsRemoved"] = removed
	if errors.Is(jerr, payments.ErrReadOnly) {
		jerr = nil // it became read-only since the outbox's sweep
	}
	return out, errors.Join(err, jerr)
}

// SweepJournalEvery removes the journal's expired claims every interval
// until ctx ends (a local run, which no schedule invokes), each run
// bounded by the interval as a scheduled invocation is by its timeout.
func (a *App) SweepJournalEvery(ctx context.Context, interval time.Duration) {
	if a.Handler.Service.Journal == nil {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		run, cancel := context.WithTimeout(ctx, interval)
		_, err := a.Handler.Service.SweepJournal(run)
		cancel()
		if err != nil && !errors.Is(err, payments.ErrReadOnly) {
			a.log.Warn("journal sweep failed; the next one continues", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// replay completes the payments claimed in the window that this Region's
// database lacks.
func (a *App) replay(ctx context.Context, w payments.ReplayWindow) (payments.ReplayResult, error) {
	if err := checkWindow(w); err != nil {
		return payments.ReplayResult{}, err
	}
	return a.Handler.Service.ReplayJournal(ctx, w.From, w.To)
}

func checkWindow(w payments.ReplayWindow) error {
	if w.From.IsZero() || w.To.IsZero() || w.To.Before(w.From) {
		return errors.New(`replayJournal needs "from" and "to" (RFC 3339), from not after to`)
	}
	return nil
}

// postOnly answers 405 to anything but a POST.
func postOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "POST only", http.StatusMethodNotAllowed)
	return false
}

// ReplayWindowHandler serves POST /internal/replay-window for the local
// HTTP mode (the lab): the replayWindowAfter invocation's body and
// answer. Loopback only, like ReplayHandler.
func (a *App) ReplayWindowHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !postOnly(w, r) {
			return
		}
		var req httpapi.ReplayWindowRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.OldRegion == "" {
			http.Error(w, `body must be {"oldRegion": "<region>"}`, http.StatusBadRequest)
			return
		}
		b, err := a.Handler.Service.ReplayWindowAfter(r.Context(), req.OldRegion)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(b)
	})
}

// ReplayHandler serves POST /internal/replay-journal for the local HTTP
// mode (the lab): the replayJournal invocation's body and answer, under
// the invocation's time bound (the payment function's timeout), so an
// answer comes back Incomplete as the function's would. It must be
// served on loopback only, never through the public API.
func (a *App) ReplayHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !postOnly(w, r) {
			return
		}
		var win payments.ReplayWindow
		err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&win)
		if err == nil {
			err = checkWindow(win)
		}
		if err != nil {
			http.Error(w, `body must be {"from": "<RFC 3339>", "to": "<RFC 3339>"}: `+err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), naming.PaymentFunctionTimeout)
		defer cancel()
		res, err := a.replay(ctx, win)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "replayed": res.Replayed, "present": res.Present, "released": res.Released})
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	})
}

// appUser reads the application user's secret (at migration time only:
// the migration function's cold start does not wait for it).
func (a *App) appUser(ctx context.Context) (mysqlstore.AppUser, error) {
	o, err := a.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(a.env.AppDBSecretID)})
	if err != nil {
		return mysqlstore.AppUser{}, fmt.Errorf("secret %s: %w", a.env.AppDBSecretID, err)
	}
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(o.SecretString)), &creds); err != nil || creds.Username == "" || creds.Password == "" {
		return mysqlstore.AppUser{}, fmt.Errorf("secret %s: want JSON with username and password", a.env.AppDBSecretID)
	}
	host := a.env.AppDBUserHost
	if host == "" {
		host = "%"
	}
	return mysqlstore.AppUser{Name: creds.Username, Host: host, Password: creds.Password}, nil
}
