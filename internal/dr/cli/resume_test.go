package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/drfake"
	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// An unfinished run whose move is done is not resumed once the
// writer is elsewhere (here: someone failed back), and one older than
// MaxResumeAge is not resumed at all.
func TestStaleRunIsNotResumed(t *testing.T) {
	w := drfake.NewWorld()
	w.FailPut["us-east-1"] = 1
	dir, cfg := t.TempDir(), writeConfig(t, false)
	r := runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir)
	if r.code != 1 || w.Writer != "us-west-2" {
		t.Fatalf("first run: %d %q", r.code, r.stderr)
	}
	// The writer goes back to us-east-1 behind drctl's back.
	if err := w.Switchover(context.Background(), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	w.GlobalCluster(context.Background())
	w.GlobalCluster(context.Background())
	puts := w.Called("PutParameter")
	r = runCLI(t, w, "", "switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "but the writer is in us-east-1 now") || w.Called("PutParameter") != puts {
		t.Fatalf("stale run: %d %q, %d puts", r.code, r.stderr, w.Called("PutParameter")-puts)
	}
	// Too old: refused whatever the world says.
	var out, errb bytes.Buffer
	code := Main([]string{"switchover", "-config", cfg, "--to", "us-west-2", "--yes", "--report-dir", dir}, Deps{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Poll: time.Millisecond,
		Now:     func() time.Time { return time.Now().Add(7 * time.Hour) },
		Connect: func(context.Context, config.Config, Options) (Conn, error) { return Conn{Cloud: w}, nil },
	})
	if code != 2 || !strings.Contains(errb.String(), "old (limit 6h0m0s)") {
		t.Errorf("old run: %d %q", code, errb.String())
	}
}

// memData is an in-memory old primary and writer for the reconcile command.
type memData struct {
	old    []mysqlstore.Row          // in (created_at, id) order
	writer map[string]mysqlstore.Row // by key
	opened string
}

func (m *memData) Newest(context.Context) (time.Time, error) {
	if len(m.old) == 0 {
		return time.Time{}, nil
	}
	return m.old[len(m.old)-1].CreatedAt, nil
}
func (m *memData) Page(_ context.Context, after reconcile.Cursor, limit int) ([]mysqlstore.Row, error) {
	var out []mysqlstore.Row
	for _, r := range m.old {
		if len(out) < limit && (r.CreatedAt.After(after.CreatedAt) || r.CreatedAt.Equal(after.CreatedAt) && r.ID > after.ID) {
			out = append(out, r)
		}
	}
	return out, nil
}
func (m *memData) Holders(_ context.Context, keys []string) (map[string]string, error) {
	held := map[string]string{}
	for _, k := range keys {
		if r, ok := m.writer[k]; ok {
			held[k] = r.ID
		}
	}
	return held, nil
}
func (m *memData) Apply(_ context.Context, r mysqlstore.Row) (reconcile.Outcome, error) {
	if _, ok := m.writer[r.IdempotencyKey]; ok {
		return "", errors.New("key taken")
	}
	m.writer[r.IdempotencyKey] = r
	return reconcile.Applied, nil
}
func (m *memData) Open(_ context.Context, region string) (reconcile.Source, reconcile.Target, func(context.Context) error, error) {
	m.opened = region
	return m, m, func(context.Context) error { return nil }, nil
}

func memRow(id, key string, amount int64, minute int) mysqlstore.Row {
	return mysqlstore.Row{Payment: payments.Payment{ID: id, IdempotencyKey: key, Amount: amount, Currency: "USD",
		CreatedAt: time.Date(2026, 11, 25, 4, minute, 0, 0, time.UTC)}}
}

func TestReconcileListsThenAppliesAfterConfirmation(t *testing.T) {
	w := drfake.NewWorld()
	w.Writer = "us-west-2"
	data := &memData{
		old:    []mysqlstore.Row{memRow("p1", "k1", 100, 0), memRow("p2", "k2", 250, 1), memRow("p3", "k3", 9, 2)},
		writer: map[string]mysqlstore.Row{"k1": memRow("p1", "k1", 100, 0), "k3": memRow("p3-retry", "k3", 9, 3)},
	}
	cfg := writeConfig(t, false)
	run := func(stdin string, args ...string) result {
		var out, errb bytes.Buffer
		code := Main(append([]string{"reconcile", "-config", cfg}, args...), Deps{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
			Connect: func(context.Context, config.Config, Options) (Conn, error) {
				return Conn{Cloud: w, Reconcile: data}, nil
			}})
		return result{code: code, stdout: out.String(), stderr: errb.String()}
	}
	if r := run("", "--from", "eu-west-1"); r.code != 2 || !strings.Contains(r.stderr, "reconcile needs --from REGION") {
		t.Errorf("bad --from: %d %q", r.code, r.stderr)
	}
	if r := run("", "--from", "us-west-2"); r.code != 2 || !strings.Contains(r.stderr, "holds the writer") {
		t.Errorf("--from the writer: %d %q", r.code, r.stderr)
	}
	r := run("", "--from", "us-east-1")
	if r.code != 0 || !strings.Contains(r.stdout, "3 payments in the old primary, 2 not in the writer") || !strings.Contains(r.stdout, "k2") ||
		!strings.Contains(r.stdout, "conflict (writer has p3-retry)") || len(data.writer) != 2 || data.opened != "us-east-1" || len(w.Kept) != 1 {
		t.Fatalf("list: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run("us-west-2\n", "--from", "us-east-1", "--apply"); r.code != 1 || !strings.Contains(r.stderr, "not confirmed") || len(data.writer) != 2 {
		t.Errorf("unconfirmed apply: %d %q", r.code, r.stderr)
	}
	r = run("us-east-1\n", "--from", "us-east-1", "--apply", "--json")
	if r.code != 0 || data.writer["k2"].ID != "p2" || data.writer["k3"].ID != "p3-retry" || !strings.Contains(r.stdout, `"outcome": "applied"`) {
		t.Fatalf("apply: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// --lab DIR reaches the injected Connect on every subcommand (which
// cmd/drctl resolves to the lab); the AWS connection refuses it rather
// than act on the account.
func TestLabFlagReachesTheInjectedConnect(t *testing.T) {
	cfg := writeConfig(t, false)
	for _, args := range [][]string{
		{"status"}, {"evaluate"}, {"switchover", "--to", "us-west-2", "--yes"}, {"failover", "--to", "us-west-2", "--yes"},
		{"failback", "--yes"}, {"drill", "--yes"}, {"reconcile", "--from", "us-east-1"},
	} {
		dir := t.TempDir()
		var got []string
		var errb bytes.Buffer
		code := Main(append(args, "-config", cfg, "--lab", dir), Deps{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &errb,
			Connect: func(ctx context.Context, c config.Config, o Options) (Conn, error) {
				got = append(got, o.Lab)
				return ConnectAWS(ctx, c, o)
			}})
		if code != 2 || len(got) != 1 || got[0] != dir || !strings.Contains(errb.String(), "--lab "+dir+": this drctl connects to AWS only") {
			t.Errorf("%v: %d %q, Connect saw %q", args, code, errb.String(), got)
		}
	}
}

// A drill resumed on another machine keeps the canaries of its
// first attempt: they travel in the mirrored journal.
func TestResumedDrillOnAnotherMachineKeepsItsCanaries(t *testing.T) {
	w := drfake.NewWorld()
	w.FailPut["us-west-2"] = 1 // the first attempt fails at update-parameters
	mirror := memMirror{}
	cfg := writeConfig(t, false)
	drill := func(dir string, args ...string) result {
		var out, errb bytes.Buffer
		code := Main(append([]string{"drill", "-config", cfg, "--yes", "--journal-ddb", "--interval", "100ms", "--report-dir", dir}, args...), Deps{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Poll: time.Millisecond,
			Connect: func(context.Context, config.Config, Options) (Conn, error) {
				return Conn{Cloud: w, Canary: drfake.Canary{W: w}, Mirror: mirror}, nil
			},
		})
		return result{code: code, stdout: out.String(), stderr: errb.String()}
	}
	if r := drill(t.TempDir()); r.code != 1 || len(mirror) != 1 {
		t.Fatalf("first machine: %d %q", r.code, r.stderr)
	}
	var id string
	for k := range mirror {
		id = k
	}
	first, err := runlog.Parse(mirror[id])
	if err != nil || len(first.Canaries) < 5 {
		t.Fatalf("mirrored canaries: %v %d", err, len(first.Canaries))
	}
	r := drill(t.TempDir(), "--resume", id)
	if r.code != 0 {
		t.Fatalf("second machine: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	final, _ := runlog.Parse(mirror[id])
	if !strings.Contains(r.stdout, "canary writes: ") || len(final.Canaries) <= len(first.Canaries) || final.Canaries[0].Key != first.Canaries[0].Key {
		t.Errorf("canaries: first attempt %d, final %d", len(first.Canaries), len(final.Canaries))
	}
}
