package lambdaapp

import (
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/naming"
)

func TestFromEnvNamesEveryMissingVariable(t *testing.T) {
	_, err := FromEnv(func(string) string { return "" })
	for _, v := range []string{"AWS_REGION", "SESSION_TABLE", "EVENT_BUS_NAME", "DB_HOST", "DB_NAME", "DB_SECRET_ID", "API_KEY_SECRET_ID", "JOURNAL_TABLE"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("missing %s not reported: %v", v, err)
		}
	}
}

func TestFromEnvTLS(t *testing.T) {
	base := map[string]string{"AWS_REGION": "us-east-1", "SESSION_TABLE": "t", "EVENT_BUS_NAME": "b", "DB_HOST": "db.example.internal", "JOURNAL_TABLE": "j",
		"DB_NAME": "payments", "DB_SECRET_ID": "s", "API_KEY_SECRET_ID": "k"}
	get := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	e, err := FromEnv(get(nil))
	if err != nil || e.DBTLS != "verify" || e.DBPort != 3306 {
		t.Fatalf("defaults: %+v %v", e, err)
	}
	if _, err := FromEnv(get(map[string]string{"DB_TLS": "off"})); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("TLS off for a remote host accepted: %v", err)
	}
	if _, err := FromEnv(get(map[string]string{"DB_TLS": "off", "DB_HOST": "127.0.0.1"})); err != nil {
		t.Errorf("TLS off on loopback: %v", err)
	}
	for _, bad := range []map[string]string{{"DB_PORT": "0"}, {"DB_PORT": "http"}, {"DB_TLS": "maybe"}} {
		if _, err := FromEnv(get(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestFromEnvDBDSN(t *testing.T) {
	base := map[string]string{"AWS_REGION": "us-east-1", "SESSION_TABLE": "t", "EVENT_BUS_NAME": "b", "API_KEY_SECRET_ID": "k"}
	get := func(dsn string) func(string) string {
		return func(k string) string {
			if k == "DB_DSN" {
				return dsn
			}
			return base[k]
		}
	}
	// A loopback DSN stands in for DB_HOST, DB_NAME and DB_SECRET_ID.
	for _, ok := range []string{"u:p@tcp(127.0.0.1:3306)/payments", "u:p@tcp(localhost:3306)/payments", "u:p@unix(/tmp/m.sock)/payments", "u:p@tcp([::1]:3306)/payments"} {
		if e, err := FromEnv(get(ok)); err != nil || e.DBDSN != ok {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for dsn, want := range map[string]string{
		"u:secret-pw@tcp(db.example.internal:3306)/payments": "loopback",
		"u:p@tcp(10.0.0.5:3306)/payments":                    "loopback",
		"u:p@tcp(127.0.0.1:3306)/":                           "name the database",
		"not a dsn":                                          "DB_DSN",
	} {
		_, err := FromEnv(get(dsn))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error mentioning %q", dsn, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-pw") {
			t.Errorf("error echoes the password: %v", err)
		}
	}
	// Without DB_DSN the secret-based variables are required again.
	if _, err := FromEnv(get("")); err == nil || !strings.Contains(err.Error(), "DB_SECRET_ID") {
		t.Errorf("no DB_DSN, no DB_SECRET_ID: %v", err)
	}
}

// The journal's variables: JOURNAL_TABLE is required on a deployed
// payment function only; JOURNAL_ENDPOINT must be loopback and comes with
// a table; JOURNAL_RETENTION is a duration of at least an hour.
func TestFromEnvJournal(t *testing.T) {
	base := map[string]string{"AWS_REGION": "us-east-1", "SESSION_TABLE": "t", "EVENT_BUS_NAME": "b", "DB_HOST": "db.example.internal",
		"DB_NAME": "payments", "DB_SECRET_ID": "s", "API_KEY_SECRET_ID": "k"}
	get := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	if _, err := FromEnv(get(map[string]string{"APP_DB_SECRET_ID": "app"})); err != nil {
		t.Errorf("the migration function needs no journal: %v", err)
	}
	e, err := FromEnv(get(map[string]string{"JOURNAL_TABLE": "payment-journal-dev", "JOURNAL_ENDPOINT": "http://127.0.0.1:4567", "JOURNAL_RETENTION": "72h"}))
	if err != nil || e.JournalTable != "payment-journal-dev" || e.JournalEndpoint != "http://127.0.0.1:4567" || e.JournalRetention.Hours() != 72 {
		t.Errorf("%+v %v", e, err)
	}
	for extra, want := range map[string]map[string]string{
		"JOURNAL_ENDPOINT is allowed only for a loopback": {"JOURNAL_TABLE": "j", "JOURNAL_ENDPOINT": "https://dynamodb.us-east-1.amazonaws.com"},
		"is not an http(s) URL":                           {"JOURNAL_TABLE": "j", "JOURNAL_ENDPOINT": "127.0.0.1:4567"},
		"JOURNAL_TABLE is not":                            {"DB_DSN": "u:p@tcp(127.0.0.1:3306)/payments", "JOURNAL_ENDPOINT": "http://127.0.0.1:1"},
		"JOURNAL_RETENTION":                               {"JOURNAL_TABLE": "j", "JOURNAL_RETENTION": "10m"},
	} {
		if _, err := FromEnv(get(want)); err == nil || !strings.Contains(err.Error(), extra) {
			t.Errorf("%v: %v, want an error saying %q", want, err, extra)
		}
	}
}

// LAB_CLOCK_OFFSET shifts only a local run's clock, by a bounded duration.
func TestFromEnvLabClockOffset(t *testing.T) {
	base := map[string]string{"AWS_REGION": "us-east-1", "SESSION_TABLE": "t", "EVENT_BUS_NAME": "b", "API_KEY_SECRET_ID": "k",
		"DB_DSN": "u:p@tcp(127.0.0.1:3306)/payments"}
	get := func(offset string, local bool) func(string) string {
		return func(k string) string {
			switch {
			case k == naming.LabClockOffsetEnv:
				return offset
			case k == "DB_DSN" && !local:
				return ""
			case !local && (k == "DB_HOST" || k == "DB_NAME" || k == "DB_SECRET_ID" || k == naming.JournalTableEnv):
				return "x"
			}
			return base[k]
		}
	}
	e, err := FromEnv(get("-30s", true))
	if err != nil || e.ClockOffset != -30*time.Second {
		t.Fatalf("offset -30s: %+v %v", e.ClockOffset, err)
	}
	if d := time.Until(e.clock()()); d > -29*time.Second || d < -31*time.Second {
		t.Errorf("the clock with -30s reads %s from now", d)
	}
	if e, _ := FromEnv(get("", true)); e.clock() != nil {
		t.Error("no offset, yet a clock other than the wall clock")
	}
	for offset, want := range map[string]string{"soon": "Go duration", "25h": "at most 24h", "-25h": "at most 24h"} {
		if _, err := FromEnv(get(offset, true)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", offset, err, want)
		}
	}
	if _, err := FromEnv(get("30s", false)); err == nil || !strings.Contains(err.Error(), "only for a local run") {
		t.Errorf("offset on a deployed function: %v", err)
	}
}
