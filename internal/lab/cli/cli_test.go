package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/lab/labdir"
)

// Every command validates its flags before touching anything, with a
// message naming the flag, and exit code 2 for usage errors.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notLab := filepath.Join(dir, "not-a-lab")
	if err := os.MkdirAll(notLab, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notLab, "precious.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"explode"}, 2, `unknown command "explode"`},
		{[]string{"up"}, 2, "--dir is required"},
		{[]string{"up", "--dir", dir, "--check-interval", "10ms"}, 2, "--check-interval 10ms"},
		{[]string{"up", "--dir", dir, "--failure-threshold", "11"}, 2, "--failure-threshold 11"},
		{[]string{"up", "--dir", dir, "--link-latency", "20s"}, 2, "--link-latency"},
		{[]string{"up", "--dir", dir, "--witness-latency", "-1ms"}, 2, "--witness-latency"},
		{[]string{"up", "--dir", dir, "--secondary-witness-latency", "25"}, 2, "--secondary-witness-latency"},
		{[]string{"up", "--dir", dir, "--secondary-witness-latency", "11s"}, 2, "--secondary-witness-latency"},
		{[]string{"up", "--dir", dir, "--config", filepath.Join(dir, "missing.json")}, 2, "--config"},
		{[]string{"status", "--dir", dir, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"status", "--dir", dir}, 1, "no lab here"},
		{[]string{"fault", "--dir", dir}, 2, "want a fault KIND"},
		{[]string{"load", "--dir", dir, "--rate", "10", "--duration", "1s"}, 2, "--out FILE is required"},
		{[]string{"verify", "--dir", dir}, 2, "--acks FILE is required"},
		{[]string{"drill", "--dir", dir, "--rate", "0"}, 2, "--rate 0"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Main(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String()+out.String(), c.want) {
			t.Errorf("drlab %v: exit %d, want %d with %q; stderr: %s", c.args, code, c.code, c.want, errb.String())
		}
	}
	lab := labdir.Lab{FailoverURL: "http://door", Regions: map[string]labdir.Region{"us-east-1": {APIURL: "http://east"}, "us-west-2": {APIURL: "http://west"}}}
	if u, err := loadURL(lab, "us-west-2"); err != nil || u != "http://west" {
		t.Errorf("load --region us-west-2: %q %v", u, err)
	}
	if u, err := loadURL(lab, ""); err != nil || u != "http://door" {
		t.Errorf("load without --region: %q %v", u, err)
	}
	if _, err := loadURL(lab, "eu-west-1"); err == nil || !strings.Contains(err.Error(), `--region "eu-west-1"`) || !strings.Contains(err.Error(), "us-east-1, us-west-2") {
		t.Errorf("load --region eu-west-1: %v", err)
	}
	// A directory holding other files is never cleared.
	if err := prepareDir(notLab); err == nil || !strings.Contains(err.Error(), "holds no lab") {
		t.Fatalf("prepareDir of a foreign directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(notLab, "precious.txt")); err != nil {
		t.Fatal("a foreign file was removed")
	}
}

// verify reads an old writer's kept copy on the same server as its live
// database: only the database name changes.
func TestWithDatabaseKeepsTheServerAndCredentials(t *testing.T) {
	got, err := withDatabase("admin:pw@tcp(127.0.0.1:3306)/payments?parseTime=true", "payments_kept_20261206_031450")
	if err != nil || !strings.Contains(got, "admin:pw@tcp(127.0.0.1:3306)/payments_kept_20261206_031450") || !strings.Contains(got, "parseTime=true") {
		t.Errorf("%q %v", got, err)
	}
	if _, err := withDatabase("not a dsn", "x"); err == nil {
		t.Error("a bad DSN accepted")
	}
}
