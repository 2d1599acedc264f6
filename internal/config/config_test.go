package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func valid() Config {
	c := Default()
	c.Environment = "dev"
	c.DomainName = "example.com"
	c.AlarmEmail = "oncall@example.com"
	return c
}

func TestDefaultsAreValidOnceNamed(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if !c.DeletionProtected() {
		t.Error("deletion protection must default to on")
	}
	if c.DBInstanceClass != "db.r8g.large" || !strings.HasPrefix(c.DBEngineVersion, "8.0.mysql_aurora.3.") {
		t.Errorf("defaults: class %s engine %s", c.DBInstanceClass, c.DBEngineVersion)
	}
	if got := c.Other(c.PrimaryRegion); got != c.SecondaryRegion {
		t.Errorf("Other(primary) = %s", got)
	}
}

func TestValidateNamesFieldAndReason(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string
		reason string
	}{
		{"empty environment", func(c *Config) { c.Environment = "" }, "environment", "must not be empty"},
		{"upper-case environment", func(c *Config) { c.Environment = "Prod" }, "environment", "lower-case"},
		{"long environment", func(c *Config) { c.Environment = "abcdefghijklmnop" }, "environment", "longer than"},
		{"double hyphen", func(c *Config) { c.Environment = "a--b" }, "environment", "single hyphens"},
		{"short account", func(c *Config) { c.Account = "1234" }, "account", "12-digit"},
		{"same Region twice", func(c *Config) { c.SecondaryRegion = c.PrimaryRegion }, "secondaryRegion", "must differ"},
		{"bad Region", func(c *Config) { c.PrimaryRegion = "useast1" }, "primaryRegion", "not an AWS Region"},
		{"overlapping CIDRs", func(c *Config) { c.SecondaryCIDR = "10.0.128.0/17" }, "secondaryCidr", "overlaps"},
		{"identical CIDRs", func(c *Config) { c.SecondaryCIDR = c.PrimaryCIDR }, "secondaryCidr", "overlaps"},
		{"host bits", func(c *Config) { c.PrimaryCIDR = "10.0.0.1/16" }, "primaryCidr", "host bits"},
		{"tiny VPC", func(c *Config) { c.PrimaryCIDR = "10.0.0.0/24" }, "primaryCidr", "between /16 and /21"},
		{"public range", func(c *Config) { c.PrimaryCIDR = "8.8.0.0/16" }, "primaryCidr", "private"},
		{"not a CIDR", func(c *Config) { c.PrimaryCIDR = "ten" }, "primaryCidr", "not an IPv4 CIDR"},
		{"instance class format", func(c *Config) { c.DBInstanceClass = "r8g.large" }, "dbInstanceClass", "not an RDS instance class"},
		{"burstable class", func(c *Config) { c.DBInstanceClass = "db.t4g.medium" }, "dbInstanceClass", "memory-optimized"},
		{"engine version", func(c *Config) { c.DBEngineVersion = "5.7.mysql_aurora.2.11.2" }, "dbEngineVersion", "Aurora MySQL 3"},
		{"domain", func(c *Config) { c.DomainName = "localhost" }, "domainName", "two labels"},
		{"domain label", func(c *Config) { c.DomainName = "bad_name.com" }, "domainName", "invalid label"},
		{"email", func(c *Config) { c.AlarmEmail = "Ops <ops@example.com>" }, "alarmEmail", "plain e-mail"},
		{"objective", func(c *Config) { c.Objectives.RTOSeconds = 0 }, "objectives.rtoSeconds", "positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			var fe FieldError
			found := false
			for _, e := range flatten(err) {
				if errors.As(e, &fe) && fe.Field == tc.field && strings.Contains(fe.Reason, tc.reason) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s: ...%s..., got %v", tc.field, tc.reason, err)
			}
		})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := valid()
	c.Environment, c.AlarmEmail, c.SecondaryRegion = "", "nope", c.PrimaryRegion
	if n := len(flatten(c.Validate())); n != 3 {
		t.Fatalf("want 3 problems, got %d: %v", n, c.Validate())
	}
}

func TestParse(t *testing.T) {
	cfg, err := Parse([]byte(`{"environment":"qa","domainName":"pay.example.org","alarmEmail":"a@b.io","deletionProtection":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DeletionProtected() || cfg.PrimaryRegion != "us-east-1" || cfg.Environment != "qa" {
		t.Fatalf("parsed %+v", cfg)
	}
	for _, bad := range []string{`{"environment":"qa","typo":1}`, `{"environment":`, `{} {}`, `[]`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestLoadShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../config/*.json")
	if len(files) == 0 {
		t.Fatal("no shipped config files")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil || !os.IsNotExist(errors.Unwrap(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com"}`))
	f.Add([]byte(`{"primaryCidr":"10.0.0.0/16","secondaryCidr":"10.0.0.0/8"}`))
	f.Add([]byte(`{"objectives":{"rtoSeconds":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must be valid and self-consistent.
		if cfg.Validate() != nil || cfg.PrimaryRegion == cfg.SecondaryRegion || cfg.Environment == "" {
			t.Fatalf("Parse accepted an invalid config: %+v", cfg)
		}
	})
}
