// Package backends is the one way anything starts a local stand-in for
// the payment service's AWS backends: tests, the DR lab and `make test`
// (through cmd/testbackends) all come here. It owns
//   - the MariaDB launcher (Aurora MySQL's stand-in): one flag set, the
//     install retry and the accounts every server gets;
//   - the dynalite launcher (DynamoDB's stand-in), the front that keeps
//     dynalite alive when a client aborts a request, and the session
//     table's definition;
//   - the in-process Secrets Manager and EventBridge endpoints;
//   - the rule for a test whose backend is missing: it fails under CI and
//     is skipped elsewhere (Missing).
//
// Everything listens on loopback only. The package is linked into the
// lab's binary, so it does not import "testing": its test helpers take TB.
package backends

import "os"

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	TempDir() string
}

// Missing ends a test whose prerequisite (a backend, a tool, a built
// binary) is absent: under CI (CI set, as .ci/run's machines do) that is a
// failure, since `make test` provides everything; elsewhere the test is
// skipped so a plain `go test` still runs the rest. msg says what is
// missing and how to get it.
func Missing(t TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// The variables cmd/testbackends exports for the shared servers of a test
// run (scripts/backends.sh, make test, make bench).
const (
	EnvMySQLDSN               = "PAYMENTS_TEST_MYSQL_DSN"                 // primary, the application user
	EnvMySQLAdminDSN          = "PAYMENTS_TEST_MYSQL_ADMIN_DSN"           // primary, the admin user
	EnvMySQLSecondaryDSN      = "PAYMENTS_TEST_MYSQL_SECONDARY_DSN"       // read-only secondary, the application user
	EnvMySQLSecondaryAdminDSN = "PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN" // read-only secondary, the admin user
	EnvDynamoDBEndpoint       = "PAYMENTS_TEST_DYNAMODB_ENDPOINT"         // dynalite
)

// Env returns one of the shared servers' variables; when it is not set,
// the test is Missing it.
func Env(t TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, name+" is not set: run the tests with `make test`, or start the shared backends first: source scripts/backends.sh && backends_start")
	}
	return v
}
