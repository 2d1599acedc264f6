package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/lab/acks"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labcloud"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/load"
	"github.com/payment-dr/payment-dr/internal/lab/verify"
)

// realLab is the drill's lab: the daemon's API, drctl beside drlab, the
// load and verify in this process.
type realLab struct {
	dir, drctl, config string
	rate               int
	w                  io.Writer
	client             *labapi.Client
}

func newRealLab(dir, config string, rate int, w io.Writer) (*realLab, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	drctl := filepath.Join(filepath.Dir(self), "drctl")
	if _, err := os.Stat(drctl); err != nil {
		return nil, fmt.Errorf("drctl not found beside drlab (%s): build it (go build -o %s ./cmd/drctl)", drctl, drctl)
	}
	return &realLab{dir: dir, drctl: drctl, config: config, rate: rate, w: w}, nil
}

func (l *realLab) Status(ctx context.Context) (labapi.Status, error) { return l.client.Status(ctx) }

// ActionJournal reads the lab's journal mirror, where its Region switch
// keeps its custom actions' journals.
func (l *realLab) ActionJournal(ctx context.Context, runID string) (*runlog.Run, error) {
	data, err := (&labcloud.DirMirror{Dir: labcloud.MirrorDir(l.dir)}).Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	return runlog.Parse(data)
}

func (l *realLab) Fault(ctx context.Context, req labapi.FaultRequest) error {
	return l.client.Fault(ctx, req)
}

func (l *realLab) command(ctx context.Context, sub string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, l.drctl, append([]string{sub, "--lab", l.dir, "--config", l.config}, args...)...)
	cmd.Stderr = l.w
	return cmd
}

func (l *realLab) Drctl(ctx context.Context, sub string, args ...string) ([]byte, error) {
	out, err := l.command(ctx, sub, args).Output()
	if err != nil {
		return out, fmt.Errorf("drctl %s: %w", sub, err)
	}
	return out, nil
}

func (l *realLab) StartDrctl(ctx context.Context, sub string, args ...string) (func() error, error) {
	cmd := l.command(ctx, sub, args)
	cmd.Stdout = l.w
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() error {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("drctl %s: %w", sub, err)
		}
		return nil
	}, nil
}

func (l *realLab) Verify(ctx context.Context, list []acks.Ack, lost map[string]bool) (verify.Report, error) {
	rep, _, err := verifyWriter(ctx, l.dir, list, lost)
	return rep, err
}

// StartLoad runs load.Run in the background until Stop. A client inside
// a Region sends a quarter of the drill's rate (at the full rate beside
// the main load, the writer on 2 shared cores fell behind so far that
// drctl's canaries timed out before the fault) and retries for a short
// grace only: while its Region is cut off nothing answers it, and the
// drill should not wait 30 s for that.
//
// A one-shot client sends a quarter of the rate too, each key once.
func (l *realLab) StartLoad(ctx context.Context, ackFile, region string, oneShot bool) (loadRun, error) {
	lab, err := labdir.Dir(l.dir).ReadLab()
	if err != nil {
		return nil, err
	}
	url, err := loadURL(lab, region)
	if err != nil {
		return nil, err
	}
	grace, who, rate := 30*time.Second, "load", l.rate
	if region != "" {
		grace, who, rate = 2*time.Second, "load inside "+region, max(1, l.rate/4)
	}
	if oneShot {
		who, rate = "one-shot load", max(1, l.rate/4)
	}
	f, err := os.OpenFile(ackFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	r := &realLoad{stop: make(chan struct{}), done: make(chan error, 1)}
	out := &lineCounter{w: f, n: &r.acked}
	go func() {
		res, err := load.Run(ctx, load.Options{URL: url, APIKey: lab.APIKey, Rate: rate, Duration: time.Hour,
			Out: out, Grace: grace, Stop: r.stop, NoRetry: oneShot})
		if oneShot {
			fmt.Fprintf(l.w, "   %s: %d acknowledged, %d answered otherwise\n", who, res.Acked, res.Failed)
		} else {
			fmt.Fprintf(l.w, "   %s: %d acknowledged, %d retries, %d given up\n", who, res.Acked, res.Retries, res.GaveUp)
		}
		r.done <- errors.Join(err, f.Close())
	}()
	return r, nil
}

type realLoad struct {
	acked atomic.Int64
	stop  chan struct{}
	done  chan error
}

func (r *realLoad) Acked() int64 { return r.acked.Load() }

func (r *realLoad) Stop() error {
	close(r.stop)
	return <-r.done
}

// lineCounter counts the ack lines the load writes (one Write per line).
type lineCounter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err == nil {
		c.n.Add(1)
	}
	return n, err
}
