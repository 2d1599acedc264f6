package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateSaveOpenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	r, err := Create(dir, Run{ID: NewID("failover", "us-west-2", now), Kind: "failover", Target: "us-west-2", Env: "dev", Created: now})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Step("promote")
	s.Started, s.Attempts = now, 1
	r.Values["lagAtFailoverMs"] = "1200"
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := Open(dir, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "failover-20261125T040000Z-us-west-2" || !got.Step("promote").Dirty() || got.Values["lagAtFailoverMs"] != "1200" {
		t.Fatalf("%+v", got)
	}
	if _, err := Create(dir, *r); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second create: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, r.ID, "journal.json.tmp")); !os.IsNotExist(err) {
		t.Error("temporary file left behind")
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"", "../x", "switchover", "switchover-2026-us"} {
		if _, err := Open(dir, id); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
	for _, body := range []string{`{`, `{"id":"x","kind":"drill"}`, `{"id":"drill-20261125T040000Z-us-west-2","kind":""}`,
		`{"id":"drill-20261125T040000Z-us-west-2","kind":"drill","steps":[{"name":"a"},{"name":"a"}]}`,
		`{"id":"drill-20261125T040000Z-us-west-2","kind":"drill","steps":[{"name":"a","started":"2026-11-25T04:00:00Z","ended":"2026-11-25T03:00:00Z"}]}`} {
		if _, err := Parse([]byte(body)); err == nil {
			t.Errorf("accepted %s", body)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"drill-20261125T040000Z-us-west-2","kind":"drill","steps":[{"name":"preflight","attempts":1}]}`))
	f.Add([]byte(`{"id":"switchover-20261125T040000Z-us-east-1","kind":"switchover","values":{"a":"b"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		if !ValidID(r.ID) || r.Kind == "" || r.Values == nil {
			t.Fatalf("accepted an invalid journal: %+v", r)
		}
		names := map[string]bool{}
		for _, s := range r.Steps {
			if names[s.Name] || s.Name == "" {
				t.Fatalf("duplicate or empty step accepted: %+v", r.Steps)
			}
			names[s.Name] = true
		}
	})
}
