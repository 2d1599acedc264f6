// Package journal records a DR run step by step so an interrupted run
// resumes where it stopped. Like golang-migrate's dirty flag, a step that
// was started but not ended is "dirty": the runner checks the world before
// running it again. The journal is a JSON file written atomically (temp
// file + rename) after every change.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Step is one step's record.
type Step struct {
	Name     string    `json:"name"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Dirty reports a step started and not ended: interrupted mid-way.
func (s Step) Dirty() bool { return !s.Started.IsZero() && s.Ended.IsZero() }

// Done reports a step that ended without error.
func (s Step) Done() bool { return !s.Ended.IsZero() && s.Error == "" }

// Run is the journal of one run.
type Run struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"` // switchover, failover, failback, drill
	Target  string            `json:"target"`
	Env     string            `json:"env"`
	Created time.Time         `json:"created"`
	Steps   []Step            `json:"steps"`
	Values  map[string]string `json:"values,omitempty"` // measurements recorded by steps (e.g. lag at failover)
	path    string
}

var idRe = regexp.MustCompile(`^[a-z]+-[0-9]{8}T[0-9]{6}Z-[a-z0-9-]+$`)

// ValidID reports whether id has the shape NewID produces.
func ValidID(id string) bool { return idRe.MatchString(id) && len(id) <= 100 }

// NewID names a run: kind, UTC time, target.
func NewID(kind, target string, now time.Time) string {
	return fmt.Sprintf("%s-%s-%s", kind, now.UTC().Format("20060102T150405Z"), target)
}

// Create starts a new journal file in dir.
func Create(dir string, r Run) (*Run, error) {
	if !ValidID(r.ID) {
		return nil, fmt.Errorf("journal: invalid run id %q", r.ID)
	}
	if err := os.MkdirAll(filepath.Join(dir, r.ID), 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r.path = filepath.Join(dir, r.ID, "journal.json")
	if _, err := os.Stat(r.path); err == nil {
		return nil, fmt.Errorf("journal: run %s already exists; resume it with --resume %s", r.ID, r.ID)
	}
	if r.Values == nil {
		r.Values = map[string]string{}
	}
	return &r, r.Save()
}

// Open loads the journal of run id from dir.
func Open(dir, id string) (*Run, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("journal: invalid run id %q", id)
	}
	path := filepath.Join(dir, id, "journal.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	r.path = path
	return r, nil
}

// Parse decodes and checks a journal.
func Parse(data []byte) (*Run, error) {
	var r Run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if !ValidID(r.ID) || r.Kind == "" {
		return nil, errors.New("not a drctl journal (bad id or kind)")
	}
	seen := map[string]bool{}
	for _, s := range r.Steps {
		if s.Name == "" || seen[s.Name] {
			return nil, fmt.Errorf("step names must be unique and non-empty (%q)", s.Name)
		}
		seen[s.Name] = true
		if !s.Ended.IsZero() && s.Ended.Before(s.Started) {
			return nil, fmt.Errorf("step %s ends before it starts", s.Name)
		}
	}
	if r.Values == nil {
		r.Values = map[string]string{}
	}
	return &r, nil
}

// Dir is the directory of the run (reports go next to the journal).
func (r *Run) Dir() string { return filepath.Dir(r.path) }

// Step returns the record of the named step, creating it if absent.
func (r *Run) Step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	r.Steps = append(r.Steps, Step{Name: name})
	return &r.Steps[len(r.Steps)-1]
}

// Save writes the journal atomically.
func (r *Run) Save() error {
	if r.path == "" {
		return nil // in-memory journal (dry runs)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return os.Rename(tmp, r.path)
}
