package labcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// DirMirror is the lab's journal mirror: one file per run in a directory
// of the lab, kept only when newer, as the session table's item is on AWS
// (awsops.JournalMirror's conditional write on the journal's version). The
// lab's Region switch keeps its custom actions' journals there and drctl
// reads them back after an execution it followed.
type DirMirror struct {
	Dir string
	mu  sync.Mutex
}

var _ runlog.Mirror = (*DirMirror)(nil)

// MirrorDir is where a lab's journal mirror lives.
func MirrorDir(labDir string) string { return filepath.Join(labDir, "journal-mirror") }

// Put stores data only if its version is newer than the stored one.
func (m *DirMirror) Put(_ context.Context, id string, data []byte) error {
	if !runlog.ValidID(id) {
		return fmt.Errorf("journal mirror: invalid run id %q", id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	newV, err := version(data)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(m.path(id)); err == nil {
		if oldV, err := version(old); err == nil && oldV >= newV {
			return fmt.Errorf("version %d of %s is not newer than the stored %d: %w", newV, id, oldV, runlog.ErrConflict)
		}
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(m.Dir, id+"-*.tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), m.path(id))
}

// Get returns runlog.ErrNotFound when the run has no copy.
func (m *DirMirror) Get(_ context.Context, id string) ([]byte, error) {
	if !runlog.ValidID(id) {
		return nil, fmt.Errorf("journal mirror: invalid run id %q", id)
	}
	data, err := os.ReadFile(m.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, runlog.ErrNotFound
	}
	return data, err
}

func (m *DirMirror) path(id string) string { return filepath.Join(m.Dir, id+".json") }

func version(data []byte) (int64, error) {
	var v struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.Version <= 0 {
		return 0, fmt.Errorf("journal mirror: the journal has no version (%v)", err)
	}
	return v.Version, nil
}
