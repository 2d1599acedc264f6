package lambdaapp

import (
	"strings"
	"testing"
)

func TestFromEnvNamesEveryMissingVariable(t *testing.T) {
	_, err := FromEnv(func(string) string { return "" })
	for _, v := range []string{"AWS_REGION", "SESSION_TABLE", "EVENT_BUS_NAME", "DB_HOST", "DB_NAME", "DB_SECRET_ID", "API_KEY_SECRET_ID"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("missing %s not reported: %v", v, err)
		}
	}
}

func TestFromEnvTLS(t *testing.T) {
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
