package runlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes the run's exclusive lock: flock(2) on <run dir>/lock, held
// until Close or the end of the process (the kernel drops it if drctl is
// killed, so a crash never leaves a run locked).
func (r *Run) Lock() error {
	if r.lock != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(filepath.Dir(r.path), "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("journal: run %s is being driven by another drctl (lock %s held)", r.ID, f.Name())
		}
		return fmt.Errorf("journal: locking run %s: %w", r.ID, err)
	}
	r.lock = f
	return nil
}

// Close releases the run's lock.
func (r *Run) Close() error {
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close()
	r.lock = nil
	return err
}
