package labcloud

import (
	"context"
	"errors"
	"testing"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// The lab's mirror keeps only a newer version, as the DynamoDB mirror's
// conditional write does.
func TestDirMirrorKeepsOnlyNewerVersions(t *testing.T) {
	ctx := context.Background()
	m := &DirMirror{Dir: t.TempDir()}
	id := "failover-20261206T050000Z-arc-lab-1"
	if _, err := m.Get(ctx, id); !errors.Is(err, runlog.ErrNotFound) {
		t.Fatalf("empty mirror: %v", err)
	}
	for _, tc := range []struct {
		data string
		want error
	}{
		{`{"version":2}`, nil},
		{`{"version":2}`, runlog.ErrConflict},
		{`{"version":1}`, runlog.ErrConflict},
		{`{"version":3}`, nil},
	} {
		if err := m.Put(ctx, id, []byte(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("put %s: %v, want %v", tc.data, err, tc.want)
		}
	}
	if b, err := m.Get(ctx, id); err != nil || string(b) != `{"version":3}` {
		t.Errorf("get: %s %v", b, err)
	}
	if err := m.Put(ctx, "../etc", []byte(`{"version":9}`)); err == nil {
		t.Error("a run id that is a path was accepted")
	}
	if err := m.Put(ctx, id, []byte(`{}`)); err == nil {
		t.Error("a journal without a version was accepted")
	}
}
