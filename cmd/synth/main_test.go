package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad configuration must stop synth before anything is built, with the
// field and the reason in the message.
func TestSynthRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"-config", write("overlap.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","secondaryCidr":"10.0.0.0/17"}`)},
			[]string{"secondaryCidr", "overlaps primaryCidr"}},
		{[]string{"-config", write("regions.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","secondaryRegion":"us-east-1"}`)},
			[]string{"secondaryRegion", "must differ"}},
		{[]string{"-config", write("class.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com","dbInstanceClass":"large"}`)},
			[]string{"dbInstanceClass", "not an RDS instance class"}},
		{[]string{"-config", write("noname.json", `{"domainName":"example.com","alarmEmail":"a@example.com"}`)},
			[]string{"environment", "must not be empty"}},
		{[]string{"-config", filepath.Join(dir, "absent.json")}, []string{"absent.json"}},
		{[]string{"-config", write("ok.json", `{"environment":"dev","domainName":"example.com","alarmEmail":"a@example.com"}`), "-build-dir", dir},
			[]string{"payments/bootstrap is missing", "make lambda"}},
		{[]string{"-bogus"}, []string{"bogus"}},
		{[]string{"extra"}, []string{"unexpected arguments"}},
	}
	for _, tc := range cases {
		err := run(tc.args)
		if err == nil {
			t.Errorf("%v: accepted", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.args, err, w)
			}
		}
	}
}
