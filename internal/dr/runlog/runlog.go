// Package runlog records a DR run step by step so an interrupted run
// resumes where it stopped. Like golang-migrate's dirty flag, a step that
// was started but not ended is "dirty": the runner checks the world before
// running it again. The journal is a JSON file written crash-safely (a
// uniquely named temp file, fsync, rename, fsync of the directory) after
// every change, by the one process holding the run's exclusive lock.
package runlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/measure"
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
	// Completed is set when every step of the plan is done; a run without
	// it is resumed automatically by the next run of the same kind and
	// target.
	Completed bool `json:"completed,omitempty"`
	// Version counts saves; the mirror only accepts a newer one.
	Version int64 `json:"version"`
	// Canaries are a drill's canary writes, kept in the journal so that
	// the mirror carries them to another machine.
	Canaries []measure.Sample `json:"canaries,omitempty"`
	path     string
	mirror   Mirror
	warn     func(error)
	lock     *os.File
}

// MoveAtKey is the Values key of the moment the writer started to move,
// recorded by the step that sends the request.
const MoveAtKey = "moveAt"

// MoveAt returns the recorded moment the writer started to move.
func (r *Run) MoveAt() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, r.Values[MoveAtKey])
	return t, err == nil
}

// samplesMu guards Canaries against the drill's canary goroutine.
var samplesMu sync.Mutex

// AddSample records a canary write; it is saved with the next Save.
func (r *Run) AddSample(s measure.Sample) {
	samplesMu.Lock()
	defer samplesMu.Unlock()
	r.Canaries = append(r.Canaries, s)
}

// Mirror keeps a copy of the journal outside this machine (package awsops
// implements it with a DynamoDB item in the session global table), so a
// run can be resumed from another machine or after losing this one.
type Mirror interface {
	// Put stores data (the journal JSON, whose "version" it reads) only if
	// the stored copy is older; otherwise it returns ErrConflict.
	Put(ctx context.Context, id string, data []byte) error
	// Get returns ErrNotFound when there is no copy.
	Get(ctx context.Context, id string) ([]byte, error)
}

// ErrNotFound: no journal of that run.
var ErrNotFound = errors.New("journal not found")

// SetMirror makes every Save also write to m; a mirror failure is passed
// to warn and does not fail the step (the local file is the record),
// except ErrConflict: another drctl drives the run, and Save fails.
func (r *Run) SetMirror(m Mirror, warn func(error)) { r.mirror, r.warn = m, warn }

// Persistent reports whether the run has a journal file (dry runs do not).
func (r *Run) Persistent() bool { return r.path != "" }

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
	if err := r.Lock(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(r.path); err == nil {
		r.Close()
		return nil, fmt.Errorf("journal: run %s already exists; resume it with --resume %s", r.ID, r.ID)
	}
	if r.Values == nil {
		r.Values = map[string]string{}
	}
	return &r, r.Save()
}

// Open loads the journal of run id from dir and takes the run's lock:
// until Close (or the process ends) no other drctl can open it.
func Open(dir, id string) (*Run, error) {
	r, err := read(dir, id)
	if err != nil {
		return nil, err
	}
	if err := r.Lock(); err != nil {
		return nil, err
	}
	// Read again under the lock: the previous holder may have saved since.
	fresh, err := read(dir, id)
	if err != nil {
		r.Close()
		return nil, err
	}
	fresh.lock = r.lock
	return fresh, nil
}

// ReadOnly loads the journal of run id without taking its lock: to look
// at a run (reports, tests), never to drive it (Save refuses).
func ReadOnly(dir, id string) (*Run, error) { return read(dir, id) }

// read loads the journal without locking it (listing).
func read(dir, id string) (*Run, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("journal: invalid run id %q", id)
	}
	path := filepath.Join(dir, id, "journal.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("journal: no run %s in %s: %w", id, dir, ErrNotFound)
	}
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

// OpenOrFetch opens run id from dir or, when this machine has no journal
// of it, fetches the mirrored copy and writes it to dir.
func OpenOrFetch(ctx context.Context, dir, id string, m Mirror) (*Run, error) {
	r, err := Open(dir, id)
	if err == nil || !errors.Is(err, ErrNotFound) || m == nil {
		return r, err
	}
	data, merr := m.Get(ctx, id)
	if merr != nil {
		return nil, fmt.Errorf("%w; mirrored copy: %w", err, merr)
	}
	r, err = Parse(data)
	if err != nil {
		return nil, fmt.Errorf("journal %s (mirrored copy): %w", id, err)
	}
	if r.ID != id {
		return nil, fmt.Errorf("journal: mirrored copy of %s holds run %s", id, r.ID)
	}
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r.path = filepath.Join(dir, id, "journal.json")
	if err := r.Lock(); err != nil {
		return nil, err
	}
	if err := r.writeFile(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// OpenNewest opens run id with the newer of this machine's copy and the
// mirror's: an engine that runs each step wherever it likes (ARC invoking
// a function whose warm sandbox kept an older copy) must go on from the
// newest. Without a mirror it is Open; a mirror that cannot be read is an
// error, since which copy is newer is then unknown.
func OpenNewest(ctx context.Context, dir, id string, m Mirror) (*Run, error) {
	if m == nil {
		return Open(dir, id)
	}
	local, err := Open(dir, id)
	if errors.Is(err, ErrNotFound) {
		return OpenOrFetch(ctx, dir, id, m)
	}
	if err != nil {
		return nil, err
	}
	data, err := m.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return local, nil
	}
	if err == nil {
		var mirrored *Run
		if mirrored, err = Parse(data); err == nil && mirrored.ID != id {
			err = fmt.Errorf("the mirrored copy of %s holds run %s", id, mirrored.ID)
		}
		if err == nil {
			if mirrored.Version <= local.Version {
				return local, nil
			}
			mirrored.path, mirrored.lock = local.path, local.lock
			if err = mirrored.writeFile(); err == nil {
				return mirrored, nil
			}
		}
	}
	local.Close()
	return nil, fmt.Errorf("journal %s: which copy is newest is unknown (mirror: %w)", id, err)
}

// Unfinished returns the runs in dir of environment env that are not
// completed, oldest first, unlocked (Open the one to resume). Unreadable
// journals are returned as errors so a damaged one is not silently ignored.
func Unfinished(dir, env string) ([]*Run, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "journal.json"))
	if err != nil {
		return nil, err
	}
	var out []*Run
	var errs []error
	for _, p := range paths {
		id := filepath.Base(filepath.Dir(p))
		if !ValidID(id) {
			continue
		}
		r, err := read(dir, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Env == env && !r.Completed {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, errors.Join(errs...)
}

// Dir is the directory of the run (reports go next to the journal).
func (r *Run) Dir() string { return filepath.Dir(r.path) }

// Find returns the record of the named step, if there is one.
func (r *Run) Find(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

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

// Save writes the journal crash-safely, then to the mirror if there is
// one. Only the holder of the run's lock may save.
func (r *Run) Save() error {
	if r.path == "" {
		return nil // in-memory journal (dry runs)
	}
	if r.lock == nil {
		return fmt.Errorf("journal: run %s is not locked by this process", r.ID)
	}
	r.Version++
	if err := r.writeFile(); err != nil {
		return err
	}
	if r.mirror != nil {
		data, err := r.marshal(false)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = r.mirror.Put(ctx, r.ID, data)
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("journal mirror of %s: %w: stop this drctl and resume where the other runs", r.ID, err)
		}
		if err != nil && r.warn != nil {
			r.warn(fmt.Errorf("journal mirror: %w", err))
		}
	}
	return nil
}

func (r *Run) marshal(indent bool) ([]byte, error) {
	samplesMu.Lock()
	defer samplesMu.Unlock()
	if indent {
		return json.MarshalIndent(r, "", "  ")
	}
	return json.Marshal(r)
}

// writeFile replaces the journal file: a uniquely named temp file (a
// crash leaves it behind harmlessly), fsynced, renamed over the journal,
// then the directory fsynced so the rename itself survives a power loss.
func (r *Run) writeFile() error {
	data, err := r.marshal(true)
	if err != nil {
		return err
	}
	dir := filepath.Dir(r.path)
	f, err := os.CreateTemp(dir, "journal-*.tmp")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("journal: %w", err)
	}
	if err := os.Rename(f.Name(), r.path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("journal: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: fsync %s: %w", dir, err)
	}
	return nil
}

// ErrConflict: the mirrored journal holds a version at least as new as
// the one being written: another drctl is driving the run.
var ErrConflict = errors.New("journal changed by another drctl")
