package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/awslimits"
	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/drpolicy"
)

// docs/aws-limits.md states, for config/dev.json, the largest figure of
// every limit and the size and statements of each of the DR role's
// policies: they are what synth measures and what drpolicy holds now, so
// a change that moves a figure updates the document with it (from
// cdk.out/limits.txt after make synth).
func TestLimitsDocMatchesWhatSynthMeasures(t *testing.T) {
	root, _ := filepath.Abs("../..")
	figs := synthFigures(t, root, filepath.Join(root, "config", "dev.json"))
	raw, err := os.ReadFile(filepath.Join(root, "docs", "aws-limits.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	limits := tableRows(doc, "| Limit | Value | Source |")
	if len(limits) != len(awslimits.Table) {
		t.Fatalf("docs/aws-limits.md lists %d limits, the check %d (awslimits.Table, same order)", len(limits), len(awslimits.Table))
	}
	for i, l := range awslimits.Table {
		largest, measured := largestFigure(figs, l)
		got, stated := leadingNumber(limits[i][3])
		switch {
		case !measured && stated:
			t.Errorf("%s: the document gives %d, synth measures nothing", l.Name, got)
		case measured && got != largest:
			t.Errorf("%s: the document gives %q, synth measures %d", l.Name, limits[i][3], largest)
		}
	}

	cfg, err := config.Load(filepath.Join(root, "config", "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	policies := drpolicy.Policies(cfg)
	rows := tableRows(doc, "| Policy | Statements |")
	if len(rows) != len(policies) {
		t.Fatalf("the document's DR policy table has %d rows, drpolicy %d policies", len(rows), len(policies))
	}
	var sizes []string
	for i, p := range policies {
		var sids []string
		for _, s := range p.Statements {
			sids = append(sids, s.Sid)
		}
		size := policyFigure(t, figs, p.Name)
		sizes = append(sizes, formatNumber(size))
		want := []string{p.Name, strings.Join(sids, ", "), formatNumber(size)}
		if strings.Join(rows[i], " | ") != strings.Join(want, " | ") {
			t.Errorf("DR policy row %d is %q, want %q", i+1, rows[i], want)
		}
	}
	if role := "DR role: " + strings.Join(sizes, " / "); !strings.Contains(limits[0][3], role) {
		t.Errorf("the managed policy size row %q lacks %q", limits[0][3], role)
	}
}

// synthFigures synthesizes cfg as make synth does (with stand-in Lambda
// binaries: an asset's hash has one length whatever its content) and
// returns what the limits check measures.
func synthFigures(t *testing.T, root, cfg string) []awslimits.Figure {
	t.Helper()
	build := fakeBuild(t, "")
	data, err := os.ReadFile(filepath.Join(root, "build", "payments", "rds-ca-bundle.pem"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the RDS CA bundle is missing from the payment asset: %v", err)
		}
		t.Skipf("run make lambda first: %v", err)
	}
	if err := os.WriteFile(filepath.Join(build, "payments", "rds-ca-bundle.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"-config", cfg, "-build-dir", build, "-out", out, "-nag=false"}, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	stacks, err := awslimits.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return awslimits.Check(stacks)
}

// tableRows are the cells of the Markdown table whose header starts with
// header, without the header and separator rows.
func tableRows(doc, header string) [][]string {
	i := strings.Index(doc, header)
	if i < 0 {
		return nil
	}
	var rows [][]string
	for n, line := range strings.Split(doc[i:], "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if n < 2 {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

var leadingNumberRe = regexp.MustCompile(`^[0-9][0-9,]*`)

// leadingNumber reads "94,491 bytes (us-east-1)" as 94491.
func leadingNumber(cell string) (int, bool) {
	m := leadingNumberRe.FindString(cell)
	if m == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.ReplaceAll(m, ",", ""))
	return n, err == nil
}

// formatNumber writes n as the document does: 2,449.
func formatNumber(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func largestFigure(figs []awslimits.Figure, l awslimits.Limit) (int, bool) {
	largest, found := 0, false
	for _, f := range figs {
		if f.Limit == l && (!found || f.Value > largest) {
			largest, found = f.Value, true
		}
	}
	return largest, found
}

// policyFigure is the size of the DR role's managed policy name (its
// logical id in the global stack starts with the name).
func policyFigure(t *testing.T, figs []awslimits.Figure, name string) int {
	t.Helper()
	for _, f := range figs {
		if f.Limit == awslimits.ManagedPolicySize && strings.HasSuffix(f.Stack, "-global") && strings.HasPrefix(f.Subject, name) {
			return f.Value
		}
	}
	t.Fatalf("synth measured no managed policy %s in the global stack", name)
	return 0
}
