package claims

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
)

// The writer record moves only from the epoch a mover read: a second
// mover that read the same epoch loses (ErrEpochMoved, with the record
// that stands), and a mover whose answer was lost and who asks again finds
// its own move, not an error.
func TestTheWriterRecordMovesOnlyFromTheEpochItExpects(t *testing.T) {
	client, table := backends.JournalTable(t)
	j := &Journal{Client: client, Table: table}
	ctx := context.Background()
	if _, found, err := j.ReadWriter(ctx); err != nil || found {
		t.Fatalf("a new journal's writer record: found %v (%v)", found, err)
	}
	if w, err := j.SetWriter(ctx, "us-east-1", 0, "first", time.Now()); err != nil || w.Region != "us-east-1" || w.Epoch != 1 {
		t.Fatalf("first writer: %+v %v", w, err)
	}
	if w, err := j.SetWriter(ctx, "us-west-2", 0, "late bootstrap", time.Now()); !errors.Is(err, ErrEpochMoved) || w.Region != "us-east-1" {
		t.Errorf("a second bootstrap: %+v %v, want refused with us-east-1's record", w, err)
	}
	if w, err := j.SetWriter(ctx, "us-west-2", 1, "drctl us-west-2", time.Now()); err != nil || w.Epoch != 2 {
		t.Fatalf("move to us-west-2: %+v %v", w, err)
	}
	if w, err := j.SetWriter(ctx, "us-west-2", 1, "drctl us-west-2", time.Now()); err != nil || w.Region != "us-west-2" || w.Epoch != 2 {
		t.Errorf("the same move asked again: %+v %v, want its own record", w, err)
	}
	if w, err := j.SetWriter(ctx, "us-east-1", 1, "a stale mover", time.Now()); !errors.Is(err, ErrEpochMoved) || w.Epoch != 2 {
		t.Errorf("a mover that read epoch 1: %+v %v, want refused", w, err)
	}
	if w, found, err := j.ReadWriter(ctx); err != nil || !found || w.Region != "us-west-2" || w.Epoch != 2 || w.SetBy != "drctl us-west-2" {
		t.Errorf("record %+v %v %v", w, found, err)
	}
}
