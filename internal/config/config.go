// Package config is the one validated configuration of a payment-dr
// deployment. The infrastructure app, the payment service tooling and drctl
// all load it, so a value is checked once, with a message that names the
// field and the reason.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Config describes one deployment (one environment across two Regions).
type Config struct {
	// Environment is the name suffix of every resource (the reference's
	// ENVIRONMENT_SUFFIX): lower-case letters, digits and hyphens.
	Environment string `json:"environment"`
	// Account is the 12-digit AWS account. Synth works with the documented
	// placeholder 111111111111; deploys need the real one.
	Account string `json:"account"`
	// Production marks an environment where drctl drill refuses to run
	// unless forced.
	Production bool `json:"production"`

	PrimaryRegion   string `json:"primaryRegion"`
	SecondaryRegion string `json:"secondaryRegion"`
	PrimaryCIDR     string `json:"primaryCidr"`
	SecondaryCIDR   string `json:"secondaryCidr"`

	// DBInstanceClass is an RDS instance class such as db.r8g.large.
	DBInstanceClass string `json:"dbInstanceClass"`
	// DBEngineVersion is an Aurora MySQL 3 version such as 8.0.mysql_aurora.3.10.4.
	DBEngineVersion string `json:"dbEngineVersion"`

	// AvailabilityZoneIDs lists, per Region, the three AZ IDs (e.g.
	// use1-az1) of the subnets. AZ IDs name the same zone in every account,
	// unlike AZ names; a Region without an entry uses DefaultAZIDs.
	AvailabilityZoneIDs map[string][]string `json:"availabilityZoneIds,omitempty"`

	// DomainName is the parent domain; the zone is payment-<env>.<domain>.
	DomainName string `json:"domainName"`
	// ParentHostedZoneID is the Route 53 hosted zone of DomainName when it
	// is in the deploying account: the global stack then delegates the
	// environment's zone itself, so the certificates validate during the
	// first deploy. Empty: delegate by hand between the staged deploy's
	// steps (README, make deploy).
	ParentHostedZoneID string `json:"parentHostedZoneId,omitempty"`
	// AlarmEmail receives the DR alarms through SNS.
	AlarmEmail string `json:"alarmEmail"`
	// DeletionProtection guards the database, table and vaults. Nil means
	// the default, on; only test environments should turn it off.
	DeletionProtection *bool `json:"deletionProtection,omitempty"`

	// JournalWitnessRegion is the witness Region of the payment journal,
	// a DynamoDB global table with multi-Region strong consistency whose
	// replicas are the two Regions. It must be a third Region of the MRSC
	// Region set both Regions belong to; empty means the first such Region
	// (JournalWitness).
	JournalWitnessRegion string `json:"journalWitnessRegion,omitempty"`

	Objectives Objectives `json:"objectives"`

	// AutoFailover lets the ARC Region switch plan's triggers move the
	// writer without an operator's approval. Only the payment journal
	// makes that safe (only a majority of its Regions can acknowledge a
	// payment, so the Region an alarm activates holds every acknowledged
	// one); default false: every execution waits for drctl approve.
	AutoFailover bool `json:"autoFailover,omitempty"`
}

// MRSCRegionSets are the Region sets of DynamoDB multi-Region strong
// consistency: an MRSC table's replicas and witness must all be in one
// (DynamoDB API Reference, CreateGlobalTableWitnessGroupMemberAction: US
// East (N. Virginia), US East (Ohio), US West (Oregon); Europe (Ireland),
// Europe (London), Europe (Paris), Europe (Frankfurt); Asia Pacific
// (Tokyo), Asia Pacific (Seoul), Asia Pacific (Osaka)).
var MRSCRegionSets = map[string][]string{
	"US": {"us-east-1", "us-east-2", "us-west-2"},
	"EU": {"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"},
	"AP": {"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"},
}

// mrscSet returns the name and Regions of the MRSC set holding region.
func mrscSet(region string) (string, []string) {
	for name, set := range MRSCRegionSets {
		if slices.Contains(set, region) {
			return name, set
		}
	}
	return "", nil
}

// JournalWitness is the journal's witness Region: JournalWitnessRegion,
// or else the first Region of the two Regions' MRSC set that is neither
// of them (us-east-1 and us-west-2: us-east-2). Empty when the Regions
// share no set (Validate reports it).
func (c Config) JournalWitness() string {
	if c.JournalWitnessRegion != "" {
		return c.JournalWitnessRegion
	}
	name, set := mrscSet(c.PrimaryRegion)
	if other, _ := mrscSet(c.SecondaryRegion); name == "" || other != name {
		return ""
	}
	for _, r := range set {
		if r != c.PrimaryRegion && r != c.SecondaryRegion {
			return r
		}
	}
	return ""
}

// validateJournalRegions checks that the two Regions and the witness are
// three distinct Regions of one MRSC Region set.
func (c Config) validateJournalRegions() []error {
	if c.PrimaryRegion == c.SecondaryRegion {
		return nil // reported as secondaryRegion
	}
	sets := func() string {
		var s []string
		for _, name := range []string{"US", "EU", "AP"} {
			s = append(s, name+": "+strings.Join(MRSCRegionSets[name], ", "))
		}
		return strings.Join(s, "; ")
	}
	pset, members := mrscSet(c.PrimaryRegion)
	sset, _ := mrscSet(c.SecondaryRegion)
	switch {
	case pset == "" || pset != sset:
		return []error{FieldError{"journalWitnessRegion", fmt.Sprintf("primaryRegion %s and secondaryRegion %s are not in one Region set of DynamoDB multi-Region strong consistency (%s): "+
			"the payment journal needs both Regions and its witness in one set; choose Regions of one set", c.PrimaryRegion, c.SecondaryRegion, sets())}}
	case c.JournalWitnessRegion == "":
		return nil
	case c.JournalWitnessRegion == c.PrimaryRegion || c.JournalWitnessRegion == c.SecondaryRegion:
		return []error{FieldError{"journalWitnessRegion", fmt.Sprintf("%s is a replica Region; the witness must be a third Region (%s set: %s)", c.JournalWitnessRegion, pset, strings.Join(members, ", "))}}
	case !slices.Contains(members, c.JournalWitnessRegion):
		return []error{FieldError{"journalWitnessRegion", fmt.Sprintf("%s is not in the %s Region set of the two Regions (%s)", c.JournalWitnessRegion, pset, strings.Join(members, ", "))}}
	}
	return nil
}

// Objectives are the recovery targets drctl measures runs against.
type Objectives struct {
	// RPOSeconds is the tolerated data loss of an unplanned failover.
	RPOSeconds int `json:"rpoSeconds"`
	// RTOSeconds is the tolerated time from first failed write to first
	// successful write in the new primary.
	RTOSeconds int `json:"rtoSeconds"`
	// LagBudgetSeconds is the replication lag above which evaluate fails
	// and the lag alarm fires.
	LagBudgetSeconds int `json:"lagBudgetSeconds"`
	// BackupMaxAgeHours is the age of the newest recovery point above
	// which evaluate reports stale backups.
	BackupMaxAgeHours int `json:"backupMaxAgeHours"`
}

// DefaultAZIDs are the AZ IDs used for a Region the configuration does not
// list. They avoid zones AWS documents as constrained (use1-az3).
var DefaultAZIDs = map[string][]string{
	"us-east-1":    {"use1-az1", "use1-az2", "use1-az4"},
	"us-east-2":    {"use2-az1", "use2-az2", "use2-az3"},
	"us-west-2":    {"usw2-az1", "usw2-az2", "usw2-az3"},
	"eu-west-1":    {"euw1-az1", "euw1-az2", "euw1-az3"},
	"eu-central-1": {"euc1-az1", "euc1-az2", "euc1-az3"},
}

// The VPC layout synth builds in every Region: SubnetsPerTier public
// subnets of PublicSubnetBits (NAT only) and as many private ones of
// PrivateSubnetBits (Lambda, database, endpoints). Validation derives the
// smallest VPC from it, so the two cannot disagree.
const (
	SubnetsPerTier    = 3
	PublicSubnetBits  = 24
	PrivateSubnetBits = 22
)

// VPCMinPrefixBits is the longest VPC prefix that holds the subnet layout.
// CDK allocates the public subnets first, then the private ones, each on
// its own size boundary, so the private block starts after the public one
// rounded up to a private subnet's size.
func (c Config) VPCMinPrefixBits() int {
	public := SubnetsPerTier << (32 - PublicSubnetBits)
	privateSize := 1 << (32 - PrivateSubnetBits)
	start := (public + privateSize - 1) / privateSize * privateSize
	need := start + SubnetsPerTier*privateSize
	bits := 32
	for 1<<(32-bits) < need {
		bits--
	}
	return bits
}

// AZIDs returns the AZ IDs of region's subnets: configured, else the default.
func (c Config) AZIDs(region string) []string {
	if ids, ok := c.AvailabilityZoneIDs[region]; ok {
		return ids
	}
	return DefaultAZIDs[region]
}

// PlaceholderAccount is accepted for offline synth and documented as such.
const PlaceholderAccount = "111111111111"

// Default returns the documented defaults; Environment, DomainName and
// AlarmEmail still have to be set by the caller.
func Default() Config {
	return Config{
		Account:         PlaceholderAccount,
		PrimaryRegion:   "us-east-1",
		SecondaryRegion: "us-west-2",
		PrimaryCIDR:     "10.0.0.0/16",
		SecondaryCIDR:   "10.1.0.0/16",
		DBInstanceClass: "db.r8g.large",
		DBEngineVersion: "8.0.mysql_aurora.3.10.4",
		Objectives: Objectives{
			RPOSeconds:        60,
			RTOSeconds:        120,
			LagBudgetSeconds:  60,
			BackupMaxAgeHours: 26,
		},
	}
}

// DeletionProtected reports whether deletion protection is on (the default).
func (c Config) DeletionProtected() bool {
	return c.DeletionProtection == nil || *c.DeletionProtection
}

// Regions returns the primary and then the secondary Region.
func (c Config) Regions() []string { return []string{c.PrimaryRegion, c.SecondaryRegion} }

// CIDR returns the VPC CIDR of the given Region.
func (c Config) CIDR(region string) string {
	if region == c.PrimaryRegion {
		return c.PrimaryCIDR
	}
	return c.SecondaryCIDR
}

// Other returns the Region that is not region.
func (c Config) Other(region string) string {
	if region == c.PrimaryRegion {
		return c.SecondaryRegion
	}
	return c.PrimaryRegion
}

// Load reads a JSON config file over the defaults. Unknown fields are an
// error so a misspelt key is not silently ignored.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes JSON over the defaults and validates the result.
func Parse(data []byte) (Config, error) {
	cfg := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("invalid JSON: trailing data after the object")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// FieldError names the field that is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

var (
	envRe      = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$`)
	accountRe  = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	classRe    = regexp.MustCompile(`^db\.[a-z][a-z0-9]*\.[a-z0-9]+$`)
	engineRe   = regexp.MustCompile(`^8\.0\.mysql_aurora\.3\.[0-9]{2}\.[0-9]+$`)
	labelRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	azIDRe     = regexp.MustCompile(`^([a-z]{2,}[0-9]+)-az[0-9]+$`)
	zoneIDRe   = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	maxEnvName = 12 // payment-processor-<region>-<env> must fit Lambda's 64 and RDS's 63 characters
)

// Validate checks every field and returns all problems, joined, each
// naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}

	switch {
	case c.Environment == "":
		bad("environment", "must not be empty")
	case len(c.Environment) > maxEnvName:
		bad("environment", "%q is longer than %d characters", c.Environment, maxEnvName)
	case !envRe.MatchString(c.Environment) || strings.Contains(c.Environment, "--"):
		bad("environment", "%q must be lower-case letters, digits and single hyphens, starting with a letter", c.Environment)
	}
	if !accountRe.MatchString(c.Account) {
		bad("account", "%q is not a 12-digit AWS account id", c.Account)
	}
	for _, r := range []struct{ field, v string }{{"primaryRegion", c.PrimaryRegion}, {"secondaryRegion", c.SecondaryRegion}} {
		if !regionRe.MatchString(r.v) {
			bad(r.field, "%q is not an AWS Region name like us-east-1", r.v)
		}
	}
	if c.PrimaryRegion != "" && c.PrimaryRegion == c.SecondaryRegion {
		bad("secondaryRegion", "must differ from primaryRegion (both are %s)", c.PrimaryRegion)
	}

	p, perr := c.parseVPCCIDR("primaryCidr", c.PrimaryCIDR)
	s, serr := c.parseVPCCIDR("secondaryCidr", c.SecondaryCIDR)
	for _, e := range []error{perr, serr} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if perr == nil && serr == nil && p.Overlaps(s) {
		bad("secondaryCidr", "%s overlaps primaryCidr %s; peered or routed VPCs need disjoint ranges", s, p)
	}

	if !classRe.MatchString(c.DBInstanceClass) {
		bad("dbInstanceClass", "%q is not an RDS instance class like db.r8g.large", c.DBInstanceClass)
	} else if strings.HasPrefix(c.DBInstanceClass, "db.t") || strings.HasPrefix(c.DBInstanceClass, "db.serverless") {
		bad("dbInstanceClass", "%q: Aurora global databases need a memory-optimized (db.r*) class", c.DBInstanceClass)
	}
	if !engineRe.MatchString(c.DBEngineVersion) {
		bad("dbEngineVersion", "%q is not an Aurora MySQL 3 version like 8.0.mysql_aurora.3.10.4", c.DBEngineVersion)
	}

	errs = append(errs, c.validateAZIDs()...)
	errs = append(errs, c.validateJournalRegions()...)
	if c.AutoFailover && c.JournalWitness() == "" {
		bad("autoFailover", "needs the payment journal (an MRSC table: both Regions and a witness in one Region set); %s and %s have none, and without it an alarm could activate a Region missing acknowledged payments", c.PrimaryRegion, c.SecondaryRegion)
	}

	if err := validDomain(c.DomainName); err != nil {
		bad("domainName", "%q %v", c.DomainName, err)
	}
	if c.ParentHostedZoneID != "" && !zoneIDRe.MatchString(c.ParentHostedZoneID) {
		bad("parentHostedZoneId", "%q is not a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ (the zone of domainName)", c.ParentHostedZoneID)
	}
	if addr, err := mail.ParseAddress(c.AlarmEmail); err != nil || addr.Address != c.AlarmEmail || addr.Name != "" {
		bad("alarmEmail", "%q is not a plain e-mail address", c.AlarmEmail)
	}

	o := c.Objectives
	for _, f := range []struct {
		field string
		v     int
	}{{"objectives.rpoSeconds", o.RPOSeconds}, {"objectives.rtoSeconds", o.RTOSeconds}, {"objectives.lagBudgetSeconds", o.LagBudgetSeconds}, {"objectives.backupMaxAgeHours", o.BackupMaxAgeHours}} {
		if f.v <= 0 {
			bad(f.field, "must be positive, got %d", f.v)
		}
	}
	return errors.Join(errs...)
}

// validateAZIDs checks that each Region has three distinct AZ IDs of one
// Region, and that no entry names a Region that is not deployed.
func (c Config) validateAZIDs() []error {
	var errs []error
	for region := range c.AvailabilityZoneIDs {
		if region != c.PrimaryRegion && region != c.SecondaryRegion {
			errs = append(errs, FieldError{"availabilityZoneIds." + region, "is neither primaryRegion nor secondaryRegion"})
		}
	}
	for _, region := range c.Regions() {
		field := "availabilityZoneIds." + region
		ids, ok := c.AvailabilityZoneIDs[region]
		if !ok && DefaultAZIDs[region] == nil {
			if regionRe.MatchString(region) {
				errs = append(errs, FieldError{field, "no default for this Region: list three AZ IDs (aws ec2 describe-availability-zones --region " + region + " --query 'AvailabilityZones[].ZoneId')"})
			}
			continue
		}
		if !ok {
			continue
		}
		if err := checkAZIDs(ids); err != "" {
			errs = append(errs, FieldError{field, err})
		}
	}
	return errs
}

func checkAZIDs(ids []string) string {
	if len(ids) != SubnetsPerTier {
		return fmt.Sprintf("needs exactly %d AZ IDs, got %d", SubnetsPerTier, len(ids))
	}
	seen, prefix := map[string]bool{}, ""
	for _, id := range ids {
		m := azIDRe.FindStringSubmatch(id)
		if m == nil {
			return fmt.Sprintf("%q is not an AZ ID like use1-az1 (AZ names such as us-east-1a map to different zones per account)", id)
		}
		if prefix != "" && m[1] != prefix {
			return fmt.Sprintf("%q and %s-... are not in one Region", id, prefix)
		}
		prefix = m[1]
		if seen[id] {
			return fmt.Sprintf("%q is listed twice; the subnets need distinct zones", id)
		}
		seen[id] = true
	}
	return ""
}

func (c Config) parseVPCCIDR(field, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return p, FieldError{field, fmt.Sprintf("%q is not an IPv4 CIDR like 10.0.0.0/16", v)}
	}
	if p.Masked() != p {
		return p, FieldError{field, fmt.Sprintf("%q has host bits set; did you mean %s?", v, p.Masked())}
	}
	// VPCs allow /16 to /28; the subnet layout needs VPCMinPrefixBits.
	if min := c.VPCMinPrefixBits(); p.Bits() < 16 || p.Bits() > min {
		return p, FieldError{field, fmt.Sprintf("%q must be between /16 and /%d to hold %d public /%d and %d private /%d subnets",
			v, min, SubnetsPerTier, PublicSubnetBits, SubnetsPerTier, PrivateSubnetBits)}
	}
	if !p.Addr().IsPrivate() {
		return p, FieldError{field, fmt.Sprintf("%q is not in a private (RFC 1918) range", v)}
	}
	return p, nil
}

func validDomain(d string) error {
	if d == "" {
		return errors.New("must not be empty")
	}
	if len(d) > 200 {
		return errors.New("is too long")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("must have at least two labels, like example.com")
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("has an invalid label %q (lower-case letters, digits, hyphens)", l)
		}
	}
	return nil
}
