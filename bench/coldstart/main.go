// Command coldstart measures the payment Lambda's cold start: from process
// start to the first reply, with real backend calls. It plays the Lambda
// Runtime API on loopback, hands the freshly started binary one POST
// /payments event, and times until the binary posts the response. The
// binary loads both secrets (a local Secrets Manager endpoint), opens a
// connection to MariaDB, commits the payment, writes the session to
// dynalite and publishes the event (a local EventBridge endpoint).
//
// Run by scripts/bench.sh, which starts the backends and sets PAYMENTS_TEST_*.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/bench/runtimeapi"
	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

func main() {
	binary := flag.String("binary", "", "payment Lambda binary built for this machine (-tags lambda.norpc)")
	runs := flag.Int("runs", 20, "cold starts to measure")
	seed := flag.String("seed", "", "also measure the reference's Python/boto3 handler, read from this seed document")
	flag.Parse()
	if err := run(*binary, *runs, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

func must(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set (run through scripts/bench.sh)", name)
	}
	return v, nil
}

func run(binary string, runs int, seed string) error {
	if binary == "" || runs < 1 {
		return fmt.Errorf("-binary is required and -runs must be positive")
	}
	adminDSN, err := must(backends.EnvMySQLAdminDSN)
	if err != nil {
		return err
	}
	appDSN, err := must(backends.EnvMySQLDSN)
	if err != nil {
		return err
	}
	ddbEndpoint, err := must(backends.EnvDynamoDBEndpoint)
	if err != nil {
		return err
	}
	ctx := context.Background()

	// Schema and table, as the deployed stack and migration provide them.
	admin, err := mysqlstore.Open(adminDSN)
	if err != nil {
		return err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS coldstart"); err != nil {
		return err
	}
	acfg, _ := mysql.ParseDSN(adminDSN)
	acfg.DBName = "coldstart"
	migrator, err := mysqlstore.Open(acfg.FormatDSN())
	if err != nil {
		return err
	}
	if _, err := mysqlstore.Migrate(ctx, migrator); err != nil {
		return err
	}
	// The application user's grants, as the migration function sets them.
	ucfg, _ := mysql.ParseDSN(appDSN)
	if err := mysqlstore.EnsureAppUser(ctx, migrator, mysqlstore.AppUser{Name: ucfg.User, Host: "127.0.0.1", Password: ucfg.Passwd}); err != nil {
		return err
	}
	// The tables survive from an earlier run on the same dynalite. The
	// first payment claims its key in the journal, as on AWS.
	if err := backends.CreateSessionTable(ctx, backends.DynamoDB(ddbEndpoint, "us-east-1"), "coldstart-sessions"); err != nil && !strings.Contains(err.Error(), "ResourceInUse") {
		return err
	}
	if err := backends.CreateJournalTable(ctx, backends.DynamoDB(ddbEndpoint, "us-east-1"), "coldstart-journal"); err != nil && !strings.Contains(err.Error(), "ResourceInUse") {
		return err
	}

	appCfg, _ := mysql.ParseDSN(appDSN)
	host, port, _ := net.SplitHostPort(appCfg.Addr)
	dbSecret, _ := json.Marshal(map[string]string{"username": appCfg.User, "password": appCfg.Passwd})
	secrets, stopSecrets, err := backends.ServeLoopback(backends.NewSecretsManagerHandler(map[string]string{"db": string(dbSecret), "api": "coldstart-api-key"}))
	if err != nil {
		return err
	}
	defer stopSecrets()
	events, stopEvents, err := backends.ServeLoopback(&backends.EventBus{})
	if err != nil {
		return err
	}
	defer stopEvents()

	var times []time.Duration
	for i := 0; i < runs; i++ {
		d, err := once(binary, secrets, events, ddbEndpoint, host, port, i)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		times = append(times, d)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("cold start (process start -> first reply, POST /payments with real backend calls), %d runs: min %.1f ms, p50 %.1f ms, p90 %.1f ms, max %.1f ms\n",
		runs, ms(times[0]), ms(times[len(times)/2]), ms(times[len(times)*9/10]), ms(times[len(times)-1]))
	if seed != "" {
		return compareSeed(seed, runs, ddbEndpoint)
	}
	return nil
}

// compareSeed measures the reference's Python handler on the same
// dynalite: cold start (interpreter start to the first handler reply,
// which does one DynamoDB put) and warm per-call latency.
func compareSeed(seed string, runs int, ddbEndpoint string) error {
	script, err := filepath.Abs("bench/coldstart/seed_handler.py")
	if err != nil {
		return err
	}
	env := append(hostEnv(), "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB="+ddbEndpoint, "DYNAMODB_TABLE=coldstart-sessions", "ENVIRONMENT=bench", "DB_ENDPOINT=unused")
	invoke := func(n int) (time.Duration, []float64, error) {
		cmd := exec.Command("python3", script, seed, strconv.Itoa(n))
		cmd.Env, cmd.Stderr = env, os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, nil, err
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, nil, err
		}
		defer func() { _ = cmd.Wait() }()
		sc := bufio.NewScanner(out)
		var first time.Duration
		var lat []float64
		for sc.Scan() {
			if !bytes.HasPrefix(sc.Bytes(), []byte(`{"status"`)) {
				continue // the handler's own print() logging
			}
			if first == 0 {
				first = time.Since(start)
			}
			var line struct {
				Status int
				Ms     float64
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Status != 200 {
				return 0, nil, fmt.Errorf("seed handler replied %s", sc.Text())
			}
			lat = append(lat, line.Ms)
		}
		return first, lat, nil
	}
	var cold []time.Duration
	for i := 0; i < runs; i++ {
		d, _, err := invoke(1)
		if err != nil {
			return err
		}
		cold = append(cold, d)
	}
	sort.Slice(cold, func(i, j int) bool { return cold[i] < cold[j] })
	_, warm, err := invoke(300)
	if err != nil {
		return err
	}
	warm = warm[20:] // drop the first calls (connection set-up)
	sort.Float64s(warm)
	fmt.Printf("reference Python/boto3 handler (one DynamoDB put), same dynalite: cold start p50 %.1f ms (min %.1f, max %.1f, %d runs); warm p50 %.2f ms, p99 %.2f ms\n",
		float64(cold[len(cold)/2].Microseconds())/1000, float64(cold[0].Microseconds())/1000, float64(cold[len(cold)-1].Microseconds())/1000, runs,
		warm[len(warm)/2], warm[len(warm)*99/100])
	return nil
}

// once starts the binary against a fresh Runtime API and times the first
// invocation: from process start to the function posting its response.
func once(binary, secretsURL, eventsURL, ddbEndpoint, dbHost, dbPort string, i int) (time.Duration, error) {
	event := fmt.Sprintf(`{"version":"2.0","routeKey":"POST /payments","rawPath":"/payments","headers":{"content-type":"application/json","x-api-key":"coldstart-api-key","idempotency-key":"cold-%d-%d"},"requestContext":{"requestId":"r-%d","http":{"method":"POST","path":"/payments"}},"body":"{\"amount\":%d,\"currency\":\"USD\",\"merchantRef\":\"m\",\"customerRef\":\"c\"}","isBase64Encoded":false}`,
		time.Now().UnixNano(), i, i, 100+i)
	rt, err := runtimeapi.Start()
	if err != nil {
		return 0, err
	}
	defer rt.Close()

	cmd := exec.Command(binary)
	cmd.Env = append(hostEnv(),
		"AWS_LAMBDA_RUNTIME_API="+rt.Addr,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "ENVIRONMENT=bench",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER="+secretsURL, "AWS_ENDPOINT_URL_EVENTBRIDGE="+eventsURL, "AWS_ENDPOINT_URL_DYNAMODB="+ddbEndpoint,
		"SESSION_TABLE=coldstart-sessions", "EVENT_BUS_NAME=coldstart", "DB_HOST="+dbHost, "DB_PORT="+dbPort, "DB_NAME=coldstart",
		"DB_SECRET_ID=db", "API_KEY_SECRET_ID=api", "DB_TLS=off", "JOURNAL_TABLE=coldstart-journal")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r, err := rt.Invoke(ctx, []byte(event))
	if err != nil {
		return 0, err
	}
	d := r.At.Sub(start)
	var resp struct{ StatusCode int }
	if err := json.Unmarshal(r.Body, &resp); err != nil || r.Error || resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("first reply was %s, want status 201", r.Body)
	}
	return d, nil
}

// hostEnv is this process's environment without its AWS_* variables, for
// both measured processes: Lambda gives a function only the variables it
// sets and the function's own. A host's AWS_CA_BUNDLE, for one, makes the
// Go SDK parse every certificate of the bundle while loading its
// configuration (about 5 ms here), which no Lambda cold start pays.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}
