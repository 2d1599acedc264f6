package runlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/measure"
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
	r.Close()
	got, err := Open(dir, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "failover-20261125T040000Z-us-west-2" || !got.Step("promote").Dirty() || got.Values["lagAtFailoverMs"] != "1200" {
		t.Fatalf("%+v", got)
	}
	got.Close()
	if _, err := Create(dir, Run{ID: r.ID, Kind: r.Kind}); err == nil || !strings.Contains(err.Error(), "already exists") {
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

func TestUnfinishedFindsRunsToResume(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	mk := func(kind, env string, at time.Time, completed bool) *Run {
		r, err := Create(dir, Run{ID: NewID(kind, "us-west-2", at), Kind: kind, Target: "us-west-2", Env: env, Created: at})
		if err != nil {
			t.Fatal(err)
		}
		r.Completed = completed
		if err := r.Save(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	mk("switchover", "dev", now, true)
	late := mk("failover", "dev", now.Add(2*time.Minute), false)
	early := mk("drill", "dev", now.Add(time.Minute), false)
	mk("failover", "prod", now, false)
	got, err := Unfinished(dir, "dev")
	if err != nil || len(got) != 2 || got[0].ID != early.ID || got[1].ID != late.ID {
		t.Fatalf("%v %+v", err, got)
	}
	// A damaged journal is reported, not skipped silently.
	if err := os.WriteFile(filepath.Join(dir, early.ID, "journal.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Unfinished(dir, "dev"); err == nil || len(got) != 1 {
		t.Errorf("damaged journal: %v %d", err, len(got))
	}
}

type mapMirror map[string][]byte

func (m mapMirror) Put(_ context.Context, id string, b []byte) error { m[id] = b; return nil }
func (m mapMirror) Get(_ context.Context, id string) ([]byte, error) {
	if b, ok := m[id]; ok {
		return b, nil
	}
	return nil, ErrNotFound
}

func TestMirrorCopiesEverySaveAndRestoresOnAnotherMachine(t *testing.T) {
	m := mapMirror{}
	r, err := Create(t.TempDir(), Run{ID: "failover-20261125T040000Z-us-west-2", Kind: "failover", Target: "us-west-2", Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	r.SetMirror(m, func(err error) { t.Error(err) })
	r.Step("promote").Attempts = 1
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	got, err := OpenOrFetch(context.Background(), other, r.ID, m)
	if err != nil || got.Step("promote").Attempts != 1 {
		t.Fatalf("%v %+v", err, got)
	}
	got.Close()
	if _, err := Open(other, r.ID); err != nil {
		t.Errorf("fetched journal not written locally: %v", err)
	}
	if _, err := OpenOrFetch(context.Background(), t.TempDir(), "failover-20261125T050000Z-us-west-2", m); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	m["drill-20261125T040000Z-us-west-2"] = m[r.ID] // an item holding another run
	if _, err := OpenOrFetch(context.Background(), t.TempDir(), "drill-20261125T040000Z-us-west-2", m); err == nil || !strings.Contains(err.Error(), "holds run") {
		t.Errorf("mismatched item: %v", err)
	}
}

func TestSamplesSurviveATornLastLine(t *testing.T) {
	r, err := Create(t.TempDir(), Run{ID: "drill-20261125T040000Z-us-west-2", Kind: "drill", Target: "us-west-2", Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := SampleWriter(r)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if err := l.Append(measure.Sample{Key: "k", Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i)*time.Second + 100*time.Millisecond), OK: i != 1}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	f, _ := os.OpenFile(filepath.Join(r.Dir(), "canaries.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"key":"k","sta`)
	f.Close()
	got, err := LoadSamples(r)
	if err != nil || len(got) != 3 || got[1].OK {
		t.Fatalf("%v %+v", err, got)
	}
	if _, err := ParseSamples([]byte("garbage\n{}\n")); err == nil {
		t.Error("a damaged line in the middle was accepted")
	}
}

func FuzzParseSamples(f *testing.F) {
	f.Add([]byte(`{"key":"k","start":"2026-11-25T04:00:00Z","end":"2026-11-25T04:00:01Z","ok":true,"id":"a"}` + "\n"))
	f.Add([]byte("\n\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseSamples(data)
		if err != nil {
			return
		}
		for _, s := range got {
			if s.Start.IsZero() || s.End.Before(s.Start) {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}

// failingMirror is a mapMirror whose Get can fail.
type failingMirror struct {
	mapMirror
	getErr error
}

func (m *failingMirror) Get(ctx context.Context, id string) ([]byte, error) {
	if m.getErr != nil {
		return nil, m.getErr
	}
	return m.mapMirror.Get(ctx, id)
}

// A sandbox whose copy is older than the mirror's goes on from the
// mirror's; one whose copy is newer keeps it; an unreadable mirror is an
// error, not a guess.
func TestOpenNewestTakesTheNewerCopy(t *testing.T) {
	ctx := context.Background()
	m := &failingMirror{mapMirror: mapMirror{}}
	a, b := t.TempDir(), t.TempDir()
	id := "failover-20261206T050000Z-arc-ex-1"
	r, err := Create(a, Run{ID: id, Kind: "failover", Target: "us-west-2", Env: "dev", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r.SetMirror(m, nil)
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// Another sandbox goes on and records a value.
	rb, err := OpenNewest(ctx, b, id, m)
	if err != nil {
		t.Fatal(err)
	}
	rb.SetMirror(m, nil)
	rb.Values["lag"] = "3s"
	if err := rb.Save(); err != nil {
		t.Fatal(err)
	}
	rb.Close()
	ra, err := OpenNewest(ctx, a, id, m)
	if err != nil || ra.Values["lag"] != "3s" {
		t.Fatalf("the old sandbox did not take the mirror's copy: %v %v", err, ra)
	}
	ra.Values["fence"] = "fenced"
	if err := ra.Save(); err != nil { // local only: no mirror set
		t.Fatal(err)
	}
	ra.Close()
	if rn, err := OpenNewest(ctx, a, id, m); err != nil || rn.Values["fence"] != "fenced" {
		t.Fatalf("the newer local copy was replaced: %v %v", err, rn)
	} else {
		rn.Close()
	}
	m.getErr = errors.New("connection refused")
	if _, err := OpenNewest(ctx, a, id, m); err == nil || !strings.Contains(err.Error(), "which copy is newest is unknown") {
		t.Fatalf("unreadable mirror: %v", err)
	}
}
