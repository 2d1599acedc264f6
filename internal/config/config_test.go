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
		{"tiny VPC", func(c *Config) { c.PrimaryCIDR = "10.0.0.0/24" }, "primaryCidr", "between /16 and /20"},
		// Synth lays out 3 public /24 and 3 private /22 subnets (3840
		// addresses); a /21 made CDK panic ("/22 exceeds remaining space").
		{"VPC too small for the subnets", func(c *Config) { c.SecondaryCIDR = "10.1.0.0/21" }, "secondaryCidr", "3 private /22"},
		{"AZ IDs of an unknown Region", func(c *Config) { c.SecondaryRegion = "ap-south-2" }, "availabilityZoneIds.ap-south-2", "no default"},
		{"two AZ IDs", func(c *Config) { c.AvailabilityZoneIDs = map[string][]string{"us-east-1": {"use1-az1", "use1-az2"}} }, "availabilityZoneIds.us-east-1", "exactly 3"},
		{"repeated AZ ID", func(c *Config) {
			c.AvailabilityZoneIDs = map[string][]string{"us-east-1": {"use1-az1", "use1-az1", "use1-az2"}}
		}, "availabilityZoneIds.us-east-1", "distinct"},
		{"AZ name instead of ID", func(c *Config) {
			c.AvailabilityZoneIDs = map[string][]string{"us-west-2": {"us-west-2a", "us-west-2b", "us-west-2c"}}
		}, "availabilityZoneIds.us-west-2", "not an AZ ID"},
		{"AZ IDs of two Regions", func(c *Config) {
			c.AvailabilityZoneIDs = map[string][]string{"us-west-2": {"usw2-az1", "usw2-az2", "use1-az4"}}
		}, "availabilityZoneIds.us-west-2", "one Region"},
		{"AZ IDs for a Region not deployed", func(c *Config) {
			c.AvailabilityZoneIDs = map[string][]string{"eu-west-1": {"euw1-az1", "euw1-az2", "euw1-az3"}}
		}, "availabilityZoneIds.eu-west-1", "neither primaryRegion nor secondaryRegion"},
		{"parent zone id", func(c *Config) { c.ParentHostedZoneID = "example.com" }, "parentHostedZoneId", "not a Route 53 hosted zone id"},
		{"public range", func(c *Config) { c.PrimaryCIDR = "8.8.0.0/16" }, "primaryCidr", "private"},
		{"not a CIDR", func(c *Config) { c.PrimaryCIDR = "ten" }, "primaryCidr", "not an IPv4 CIDR"},
		{"instance class format", func(c *Config) { c.DBInstanceClass = "r8g.large" }, "dbInstanceClass", "not an RDS instance class"},
		{"burstable class", func(c *Config) { c.DBInstanceClass = "db.t4g.medium" }, "dbInstanceClass", "memory-optimized"},
		{"engine version", func(c *Config) { c.DBEngineVersion = "5.7.mysql_aurora.2.11.2" }, "dbEngineVersion", "Aurora MySQL 3"},
		{"domain", func(c *Config) { c.DomainName = "localhost" }, "domainName", "two labels"},
		{"domain label", func(c *Config) { c.DomainName = "bad_name.com" }, "domainName", "invalid label"},
		{"email", func(c *Config) { c.AlarmEmail = "Ops <ops@example.com>" }, "alarmEmail", "plain e-mail"},
		{"objective", func(c *Config) { c.Objectives.RTOSeconds = 0 }, "objectives.rtoSeconds", "positive"},
		{"Regions of two MRSC sets", func(c *Config) { c.SecondaryRegion = "eu-west-1" }, "journalWitnessRegion", "not in one Region set"},
		{"automatic failover without a journal", func(c *Config) { c.SecondaryRegion, c.AutoFailover = "eu-west-1", true }, "autoFailover", "needs the payment journal"},
		{"witness is a replica", func(c *Config) { c.JournalWitnessRegion = c.SecondaryRegion }, "journalWitnessRegion", "third Region"},
		{"witness of another set", func(c *Config) { c.JournalWitnessRegion = "eu-west-2" }, "journalWitnessRegion", "not in the US Region set"},
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

// The smallest VPC the layout fits is accepted, and the AZ IDs come from
// the configuration where given, else from the documented defaults.
func TestSmallestVPCAndAZIDs(t *testing.T) {
	c := valid()
	c.PrimaryCIDR, c.SecondaryCIDR = "10.0.0.0/20", "10.0.16.0/20"
	c.ParentHostedZoneID = "Z0123456789ABCDEFGHIJ"
	c.AvailabilityZoneIDs = map[string][]string{"us-west-2": {"usw2-az4", "usw2-az2", "usw2-az1"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if got := strings.Join(c.AZIDs("us-west-2"), ","); got != "usw2-az4,usw2-az2,usw2-az1" {
		t.Errorf("configured AZ IDs: %s", got)
	}
	if got := c.AZIDs("us-east-1"); len(got) != 3 || !strings.HasPrefix(got[0], "use1-az") {
		t.Errorf("default AZ IDs: %v", got)
	}
	if c.VPCMinPrefixBits() != 20 {
		t.Errorf("min VPC prefix /%d", c.VPCMinPrefixBits())
	}
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

// The journal's witness defaults to the third Region of the Regions' set.
func TestJournalWitness(t *testing.T) {
	for _, c := range []struct{ primary, secondary, witness, want string }{
		{"us-east-1", "us-west-2", "", "us-east-2"},
		{"us-east-2", "us-east-1", "", "us-west-2"},
		{"eu-west-1", "eu-central-1", "", "eu-west-2"},
		{"ap-northeast-1", "ap-northeast-3", "", "ap-northeast-2"},
		{"eu-west-1", "eu-west-2", "eu-central-1", "eu-central-1"},
		{"us-east-1", "eu-west-1", "", ""},
	} {
		cfg := valid()
		cfg.PrimaryRegion, cfg.SecondaryRegion, cfg.JournalWitnessRegion = c.primary, c.secondary, c.witness
		if got := cfg.JournalWitness(); got != c.want {
			t.Errorf("%s+%s (witness %q): %q, want %q", c.primary, c.secondary, c.witness, got, c.want)
		}
	}
}
