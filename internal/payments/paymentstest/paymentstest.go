// Package paymentstest gives tests a fresh, migrated payment database of
// their own on a local MariaDB server (internal/backends starts them).
package paymentstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

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
	return DatabaseOn(t, backends.Env(t, appVar), backends.Env(t, adminVar))
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
	return mysqlstore.AppUser{Name: cfg.User, Host: backends.Host, Password: cfg.Passwd}
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

// Function is what a payment function reaches, on the test backends: a
// fresh database for the service's user, the session and journal tables,
// an event bus, and a Secrets Manager holding the user's credentials and
// the API key.
type Function struct {
	DBName, DBHost, DBPort     string
	DBUser                     *mysql.Config
	SessionTable, JournalTable string
	Events                     *backends.EventBus
	Secrets                    *backends.SecretsManager
}

// NewFunction prepares a Function whose secrets are named dbSecretID and
// apiKeySecretID.
func NewFunction(t *testing.T, dbSecretID, apiKeySecretID, apiKey string) *Function {
	t.Helper()
	_, _, name := Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	_, table := backends.Dynamo(t)
	_, journalTable := backends.JournalTable(t)
	cfg, err := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLDSN))
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := json.Marshal(map[string]string{"username": cfg.User, "password": cfg.Passwd})
	host, port, _ := net.SplitHostPort(cfg.Addr)
	return &Function{DBName: name, DBHost: host, DBPort: port, DBUser: cfg, SessionTable: table, JournalTable: journalTable,
		Events:  backends.NewEventBridge(t),
		Secrets: backends.NewSecretsManager(t, map[string]string{dbSecretID: string(creds), apiKeySecretID: apiKey})}
}
