// Package paymentstest gives tests the real local backends started by
// scripts/backends.sh (MariaDB and dynalite) and a recording EventBridge
// endpoint driven through the AWS SDK's own request/response code.
package paymentstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// Env returns a backend variable. Missing variables fail the test in CI
// (CI=true) and skip it elsewhere, naming the variable and the fix.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		msg := name + " is not set: run the tests with `make test`, which starts the local backends (scripts/backends.sh)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Database creates a fresh migrated database on the server behind the
// given DSN variables (admin and app) and returns a pool of the app user,
// which has no right to bypass read_only, plus an admin pool.
func Database(t testing.TB, appVar, adminVar string) (app, admin *sql.DB, name string) {
	t.Helper()
	return DatabaseOn(t, Env(t, appVar), Env(t, adminVar))
}

// DatabaseOn is Database on the server of the given DSNs.
func DatabaseOn(t testing.TB, appDSN, adminDSN string) (app, admin *sql.DB, name string) {
	t.Helper()
	name = "payments_" + suffix()
	root, err := mysqlstore.Open(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = root.ExecContext(context.Background(), "DROP DATABASE "+name)
		root.Close()
	})
	admin, err = mysqlstore.Open(withDB(t, adminDSN, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := mysqlstore.Migrate(ctx, admin); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// The service's user gets exactly its grants on this database, as the
	// migration function gives them on Aurora.
	if err := mysqlstore.EnsureAppUser(ctx, admin, LocalAppUser(t, appDSN)); err != nil {
		t.Fatalf("application user: %v", err)
	}
	app, err = mysqlstore.Open(withDB(t, appDSN, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app, admin, name
}

// LocalAppUser is the application user of a local server's DSN (the
// server sees loopback clients as 127.0.0.1).
func LocalAppUser(t testing.TB, dsn string) mysqlstore.AppUser {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return mysqlstore.AppUser{Name: cfg.User, Host: "127.0.0.1", Password: cfg.Passwd}
}

func withDB(t testing.TB, dsn, db string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = db
	return cfg.FormatDSN()
}

// Count runs a COUNT(*) query.
func Count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Dynamo returns a client for dynalite and a fresh session table.
func Dynamo(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	c := dynalite(t)
	table := "payment-sessions-" + suffix()
	createTable(t, c, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("sessionId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("sessionId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	return c, table
}

// JournalTable returns a client for dynalite and a fresh payment journal
// table (the key schema of the MRSC table: pk and sk, both strings).
func JournalTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	c := dynalite(t)
	table := "payment-journal-" + suffix()
	str := types.ScalarAttributeTypeS
	createTable(t, c, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: str}, {AttributeName: aws.String("sk"), AttributeType: str}},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		BillingMode: types.BillingModePayPerRequest,
	})
	return c, table
}

func dynalite(t testing.TB) *dynamodb.Client {
	endpoint := Env(t, "PAYMENTS_TEST_DYNAMODB_ENDPOINT")
	return dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func createTable(t testing.TB, c *dynamodb.Client, in *dynamodb.CreateTableInput) {
	t.Helper()
	table := aws.ToString(in.TableName)
	_, err := c.CreateTable(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// dynalite creates tables asynchronously, like DynamoDB.
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// PutEventsEntry is one event the recorder received.
type PutEventsEntry struct {
	EventBusName, Source, DetailType, Detail string
	At                                       time.Time
}

// EventBridge is a local endpoint that answers PutEvents like EventBridge
// and records what it was sent. FailNext makes the next n calls answer
// with a failed entry (EventBridge's partial failure), Throttle with an
// HTTP 400 ThrottlingException; until FailUntil every call gets an HTTP
// 500 InternalException (an outage).
type EventBridge struct {
	Server    *httptest.Server
	mu        sync.Mutex
	entries   []PutEventsEntry
	FailNext  int
	Throttle  int
	Calls     int
	FailUntil time.Time
	// OnEvent, if set, runs before the event is acknowledged.
	OnEvent func(PutEventsEntry)
}

// NewEventBridge starts the endpoint; it stops when the test ends.
func NewEventBridge(t testing.TB) *EventBridge {
	eb := &EventBridge{}
	eb.Server = httptest.NewServer(http.HandlerFunc(eb.serve))
	t.Cleanup(eb.Server.Close)
	return eb
}

// Client returns an SDK client pointed at the endpoint.
func (eb *EventBridge) Client() *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(eb.Server.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func (eb *EventBridge) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	eb.mu.Lock()
	defer eb.mu.Unlock()
	eb.Calls++
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutEvents") {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"UnknownOperationException","message":"only PutEvents"}`)
		return
	}
	if time.Now().Before(eb.FailUntil) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"__type":"InternalException","message":"outage"}`)
		return
	}
	if eb.Throttle > 0 {
		eb.Throttle--
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		return
	}
	var in struct {
		Entries []PutEventsEntry `json:"Entries"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if eb.FailNext > 0 {
		eb.FailNext--
		failed := strings.Repeat(`{"ErrorCode":"InternalFailure","ErrorMessage":"try again"},`, len(in.Entries))
		_, _ = io.WriteString(w, fmt.Sprintf(`{"FailedEntryCount":%d,"Entries":[%s]}`, len(in.Entries), strings.TrimSuffix(failed, ",")))
		return
	}
	var ok strings.Builder
	for i, e := range in.Entries {
		e.At = time.Now()
		if eb.OnEvent != nil {
			eb.OnEvent(e)
		}
		eb.entries = append(eb.entries, e)
		if i > 0 {
			ok.WriteString(",")
		}
		ok.WriteString(`{"EventId":"` + suffix() + `"}`)
	}
	_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[`+ok.String()+`]}`)
}

// CallCount returns how many requests the endpoint received.
func (eb *EventBridge) CallCount() int {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	return eb.Calls
}

// Entries returns what was published so far.
func (eb *EventBridge) Entries() []PutEventsEntry {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	return append([]PutEventsEntry(nil), eb.entries...)
}

// SecretsManager is a local Secrets Manager endpoint (GetSecretValue, JSON
// 1.1 protocol) serving fixed values and recording which were read.
type SecretsManager struct {
	Server *httptest.Server
	mu     sync.Mutex
	values map[string]string
	reads  []string
}

// NewSecretsManager starts the endpoint; it stops when the test ends.
func NewSecretsManager(t testing.TB, values map[string]string) *SecretsManager {
	s := &SecretsManager{values: values}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Server.Close)
	return s
}

func (s *SecretsManager) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"UnknownOperationException","message":"only GetSecretValue"}`)
		return
	}
	var in struct{ SecretId string }
	_ = json.Unmarshal(body, &in)
	s.mu.Lock()
	s.reads = append(s.reads, in.SecretId)
	v, ok := s.values[in.SecretId]
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
		return
	}
	out, _ := json.Marshal(map[string]string{"Name": in.SecretId, "SecretString": v,
		"ARN": "arn:aws:secretsmanager:us-east-1:111111111111:secret:" + in.SecretId})
	_, _ = w.Write(out)
}

// Set adds or replaces a secret.
func (s *SecretsManager) Set(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[id] = value
}

// Reads returns the secret ids requested so far.
func (s *SecretsManager) Reads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reads...)
}
