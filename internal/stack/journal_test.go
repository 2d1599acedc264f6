package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The payment journal: an MRSC global table (replicas in both Regions,
// the witness in the third Region of their set), declared once in the
// primary's stack, with the pk/sk schema and none of what MRSC lacks
// (TTL, local secondary indexes).
func TestJournalIsAnMRSCGlobalTableWithAWitness(t *testing.T) {
	s := synthesize(t)
	if n := s.templates[s.cfg.SecondaryRegion].count("AWS::DynamoDB::GlobalTable"); n != 0 {
		t.Fatalf("secondary declares %d global tables; the replicas belong to the primary's", n)
	}
	tbl := s.templates[s.cfg.PrimaryRegion].one(t, "AWS::DynamoDB::GlobalTable", map[string]any{"TableName": "payment-journal-prod"})
	if got := prop(tbl, "MultiRegionConsistency"); got != "STRONG" {
		t.Errorf("MultiRegionConsistency %v, want STRONG", got)
	}
	if got, want := jsonOf(tbl.Properties["GlobalTableWitnesses"]), `[{"Region":"`+s.cfg.JournalWitness()+`"}]`; got != want {
		t.Errorf("witnesses %s, want %s", got, want)
	}
	if s.cfg.JournalWitness() == "" || s.cfg.JournalWitness() == s.cfg.PrimaryRegion || s.cfg.JournalWitness() == s.cfg.SecondaryRegion {
		t.Errorf("witness %q is not a third Region", s.cfg.JournalWitness())
	}
	for _, k := range []string{`"AttributeName":"pk","KeyType":"HASH"`, `"AttributeName":"sk","KeyType":"RANGE"`} {
		if !contains(tbl.Properties["KeySchema"], k) {
			t.Errorf("key schema %v lacks %s", tbl.Properties["KeySchema"], k)
		}
	}
	for _, absent := range []string{"TimeToLiveSpecification", "LocalSecondaryIndexes", "GlobalSecondaryIndexes"} {
		if tbl.Properties[absent] != nil {
			t.Errorf("%s on an MRSC table: %v", absent, tbl.Properties[absent])
		}
	}
	regions := map[string]bool{}
	for _, r := range tbl.Properties["Replicas"].([]any) {
		m := r.(map[string]any)
		regions[fmt.Sprint(m["Region"])] = true
		if m["DeletionProtectionEnabled"] != true {
			t.Errorf("replica %v lacks deletion protection", m)
		}
		// Point-in-time recovery is a per-replica setting ("never
		// synchronized between replicas", "How DynamoDB global tables work").
		if jsonOf(m["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` {
			t.Errorf("replica %v lacks point-in-time recovery", m["Region"])
		}
	}
	if len(regions) != 2 || !regions[s.cfg.PrimaryRegion] || !regions[s.cfg.SecondaryRegion] {
		t.Errorf("replicas in %v, want both Regions", regions)
	}
}

// The payment function names the journal and may use exactly the four
// item operations on its Region's replica; the migration function may
// not touch it.
func TestPaymentFunctionUsesTheJournalInItsRegion(t *testing.T) {
	s := synthesize(t)
	for _, region := range s.cfg.Regions() {
		tpl := s.templates[region]
		fn := tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": "payment-processor-" + region + "-prod"})
		if env := prop(fn, "Environment", "Variables").(map[string]any); env["JOURNAL_TABLE"] != "payment-journal-prod" {
			t.Errorf("%s: JOURNAL_TABLE = %v", region, env["JOURNAL_TABLE"])
		}
		var doc struct{ Statement []map[string]any }
		if err := json.Unmarshal([]byte(lambdaPolicy(t, tpl, "PaymentsRole")), &doc); err != nil {
			t.Fatal(err)
		}
		var journal map[string]any
		for _, st := range doc.Statement {
			if st["Sid"] == "Journal" {
				journal = st
			}
		}
		want := `["dynamodb:PutItem","dynamodb:GetItem","dynamodb:DeleteItem","dynamodb:Query"]`
		if journal == nil || jsonOf(journal["Action"]) != want ||
			jsonOf(journal["Resource"]) != `"arn:aws:dynamodb:`+region+`:111111111111:table/payment-journal-prod"` {
			t.Errorf("%s: journal statement %v, want %s on the Region's replica", region, journal, want)
		}
		if strings.Contains(lambdaPolicy(t, tpl, "MigrateRole"), "payment-journal") {
			t.Errorf("%s: the migration function may use the journal", region)
		}
	}
}
