package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/payment-dr/payment-dr/internal/dr/measure"
)

// SamplesFile holds a drill's canary writes, one JSON object a line,
// appended as they are taken so that a resumed drill measures across the
// interruption.
const SamplesFile = "canaries.jsonl"

// LoadSamples returns the canary writes recorded for run: those in its
// journal (which the mirror carries to another machine) and those
// appended to canaries.jsonl since its last save. A torn last line, left
// by a crash mid-write, is dropped.
func LoadSamples(run *Run) ([]measure.Sample, error) {
	samplesMu.Lock()
	out := append([]measure.Sample(nil), run.Canaries...)
	samplesMu.Unlock()
	if !run.Persistent() {
		return out, nil
	}
	data, err := os.ReadFile(filepath.Join(run.Dir(), SamplesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	local, err := ParseSamples(data)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range out {
		seen[s.Key] = true
	}
	for _, s := range local {
		if !seen[s.Key] {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// ParseSamples decodes canaries.jsonl. Only the last line may be torn.
func ParseSamples(data []byte) ([]measure.Sample, error) {
	var out []measure.Sample
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var s measure.Sample
		if err := json.Unmarshal(line, &s); err != nil {
			if i == len(lines)-1 {
				break // torn by a crash while appending
			}
			return nil, fmt.Errorf("%s line %d: %w", SamplesFile, i+1, err)
		}
		if s.Start.IsZero() || s.End.Before(s.Start) {
			return nil, fmt.Errorf("%s line %d: sample without a valid start and end", SamplesFile, i+1)
		}
		out = append(out, s)
	}
	return out, nil
}

// SampleLog appends canary writes to a run's canaries.jsonl.
type SampleLog struct {
	f *os.File
	w *bufio.Writer
}

// SampleWriter opens run's sample log for appending; for an in-memory run
// it returns a log that keeps nothing.
func SampleWriter(run *Run) (*SampleLog, error) {
	if !run.Persistent() {
		return &SampleLog{}, nil
	}
	f, err := os.OpenFile(filepath.Join(run.Dir(), SamplesFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &SampleLog{f: f, w: bufio.NewWriter(f)}, nil
}

// Append writes one sample and flushes it.
func (l *SampleLog) Append(s measure.Sample) error {
	if l.f == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	l.w.Write(b)
	l.w.WriteByte('\n')
	return l.w.Flush()
}

// Close closes the log.
func (l *SampleLog) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}
