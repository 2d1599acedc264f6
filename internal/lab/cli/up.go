package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/lab/daemon"
	"github.com/payment-dr/payment-dr/internal/lab/frontdoor"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/proc"
)

// daemonPid is the daemon's pid file, kept apart from DIR/pids (the
// processes the daemon itself started and stops).
const daemonPid = "daemon.pid"

// upTimeout bounds a start; the lab normally starts in a few seconds.
const upTimeout = 90 * time.Second

type upFlags struct {
	dir, config, paymentsBin, dynalite string
	templates                          string // the synthesized templates (the Region switch plan)
	autoFailover, arcTriggers          bool
	secondaryWitness                   string // "" for --witness-latency
	latency, witness, interval, ttl    time.Duration
	threshold                          int
}

func (u *upFlags) validate() error {
	var errs []error
	if _, err := labapi.ParseLatency(u.latency.String()); err != nil {
		errs = append(errs, fmt.Errorf("--link-latency: %v", err))
	}
	if _, err := labapi.ParseLatency(u.witness.String()); err != nil {
		errs = append(errs, fmt.Errorf("--witness-latency: %v", err))
	}
	if u.secondaryWitness != "" {
		if _, err := labapi.ParseLatency(u.secondaryWitness); err != nil {
			errs = append(errs, fmt.Errorf("--secondary-witness-latency: %v", err))
		}
	}
	if u.interval < 100*time.Millisecond || u.interval > time.Minute {
		errs = append(errs, fmt.Errorf("--check-interval %s: want 100ms to 1m", u.interval))
	}
	if u.threshold < 1 || u.threshold > 10 {
		errs = append(errs, fmt.Errorf("--failure-threshold %d: want 1 to 10 (Route 53's range)", u.threshold))
	}
	if u.autoFailover && u.arcTriggers {
		errs = append(errs, errors.New("--auto-failover and --arc-triggers: choose one (--auto-failover also grants the approval)"))
	}
	if u.ttl < 0 || u.ttl > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--ttl %s: want 0 to 10m", u.ttl))
	}
	return errors.Join(errs...)
}

// triggerMode is the arc-triggers mode the flags ask for.
func (u *upFlags) triggerMode() string {
	switch {
	case u.autoFailover:
		return labapi.TriggersAuto
	case u.arcTriggers:
		return labapi.TriggersApprove
	}
	return labapi.TriggersOff
}

func cmdUp(ctx context.Context, args []string, out io.Writer) error {
	var u upFlags
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.StringVar(&u.config, "config", "config/dev.json", "environment configuration (its two Regions)")
	fs.DurationVar(&u.latency, "link-latency", 35*time.Millisecond, "one-way latency of the inter-Region link")
	fs.DurationVar(&u.witness, "witness-latency", 6*time.Millisecond, "one-way latency between each Region and the journal's witness (about us-east-1 to us-east-2)")
	fs.StringVar(&u.secondaryWitness, "secondary-witness-latency", "", "the secondary Region's own one-way latency to the witness (default: --witness-latency; 25ms gives us-west-2's 50 ms round trip to us-east-2)")
	fs.DurationVar(&u.interval, "check-interval", time.Second, "health-check interval of the Route 53 stand-in")
	fs.IntVar(&u.threshold, "failure-threshold", 3, "consecutive failures (and successes) that flip a health check")
	fs.DurationVar(&u.ttl, "ttl", time.Second, "TTL of the failover record (the front door caches its answer this long)")
	fs.StringVar(&u.paymentsBin, "payments-bin", "", "the payment service binary (default: 'payments' beside drlab)")
	fs.StringVar(&u.dynalite, "dynalite", "", "dynalite (default: from PATH or tools/node_modules/.bin)")
	fs.StringVar(&u.templates, "templates", "cdk.out", "the templates make synth wrote: the lab runs their ARC Region switch plan")
	fs.BoolVar(&u.autoFailover, "auto-failover", false, "the plan's triggers fire on the probes' alarms and the lab grants the approval (no operator)")
	fs.BoolVar(&u.arcTriggers, "arc-triggers", false, "the plan's triggers fire on the probes' alarms; each execution waits for drctl approve")
	if _, err := flags(fs, args, &u.dir, false); err != nil {
		return err
	}
	if err := u.validate(); err != nil {
		return usageError{err}
	}
	if _, err := config.Load(u.config); err != nil {
		return usageError{fmt.Errorf("--config: %w", err)}
	}
	if _, err := backends.FindBinaries(); err != nil {
		return err
	}
	var err error
	if u.paymentsBin, err = findPaymentsBin(u.paymentsBin); err != nil {
		return err
	}
	if u.dynalite, err = backends.FindDynalite(u.dynalite); err != nil {
		return err
	}
	if u.dir, err = filepath.Abs(u.dir); err != nil {
		return err
	}
	if u.config, err = filepath.Abs(u.config); err != nil {
		return err
	}
	if u.templates, err = filepath.Abs(u.templates); err != nil {
		return err
	}
	if err := prepareDir(u.dir); err != nil {
		return err
	}
	start := time.Now()
	if err := spawn(ctx, u); err != nil {
		_, _ = stopLab(u.dir)
		return err
	}
	lab, err := labdir.Dir(u.dir).ReadLab()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "lab up in %.1fs: %s\n  failoverURL %s\n", time.Since(start).Seconds(), filepath.Join(u.dir, "lab.json"), lab.FailoverURL)
	st, err := labdir.Dir(u.dir).ReadState()
	if err != nil {
		return err
	}
	for _, r := range []string{st.Primary, st.Secondary} {
		fmt.Fprintf(out, "  %-14s %-9s api %s\n", r, lab.Regions[r].Role, lab.Regions[r].APIURL)
	}
	floor := frontdoor.Options{Interval: u.interval, Threshold: u.threshold, TTL: u.ttl}.Floor()
	fmt.Fprintf(out, "  detection floor %s (check interval %s x threshold %d + TTL %s); logs in %s\n",
		floor, u.interval, u.threshold, u.ttl, filepath.Join(u.dir, "logs"))
	return nil
}

// prepareDir refuses a directory with a running lab or with files that
// are not a lab's, and clears a stopped lab's leftovers.
func prepareDir(dir string) error {
	if proc.AliveFile(filepath.Join(dir, daemonPid)) {
		return fmt.Errorf("a lab is already running in %s (drlab down --dir %s)", dir, dir)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
			return fmt.Errorf("%s is not empty and holds no lab: choose an empty or new directory", dir)
		}
		if left, _ := proc.StopAll(dir, 5*time.Second); len(left) > 0 {
			return fmt.Errorf("processes of an earlier lab were still running in %s and were stopped (%s); run up again", dir, strings.Join(left, ", "))
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// spawn starts `drlab serve` in its own session and waits for it to be
// ready, to fail, or to exit.
func spawn(ctx context.Context, u upFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"serve", "--dir", u.dir, "--config", u.config, "--link-latency", u.latency.String(), "--witness-latency", u.witness.String(),
		"--check-interval", u.interval.String(), "--failure-threshold", strconv.Itoa(u.threshold), "--ttl", u.ttl.String(),
		"--payments-bin", u.paymentsBin, "--dynalite", u.dynalite, "--templates", u.templates, "--arc-triggers", u.triggerMode()}
	if u.secondaryWitness != "" {
		args = append(args, "--secondary-witness-latency", u.secondaryWitness)
	}
	if err := os.MkdirAll(filepath.Join(u.dir, "logs"), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(u.dir, "logs", "drlab-serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the lab daemon: %w", err)
	}
	pidLine := strconv.Itoa(cmd.Process.Pid) + " " + filepath.Base(self) + "\n"
	if err := os.WriteFile(filepath.Join(u.dir, daemonPid), []byte(pidLine), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(upTimeout)
	for {
		if _, err := os.Stat(filepath.Join(u.dir, daemon.ReadyFile)); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(u.dir, daemon.ErrorFile))
			if len(b) == 0 {
				b = []byte(fmt.Sprintf("the lab daemon exited (%v): %s", err, proc.Log(u.dir, "drlab-serve", 800)))
			}
			return fmt.Errorf("%s (logs in %s)", strings.TrimSpace(string(b)), filepath.Join(u.dir, "logs"))
		case <-deadline:
			return fmt.Errorf("the lab was not ready within %s; logs in %s", upTimeout, filepath.Join(u.dir, "logs"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func findPaymentsBin(p string) (string, error) {
	if p == "" {
		self, err := os.Executable()
		if err != nil {
			return "", err
		}
		p = filepath.Join(filepath.Dir(self), "payments")
	}
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("payment service binary %s not found: build it (go build -o %s ./cmd/payments) or pass --payments-bin", p, p)
	}
	return filepath.Abs(p)
}

func cmdDown(ctx context.Context, args []string, out io.Writer) error {
	var dir string
	if _, err := flags(flag.NewFlagSet("down", flag.ContinueOnError), args, &dir, false); err != nil {
		return err
	}
	stopped, err := stopLab(dir)
	if len(stopped) == 0 && err == nil {
		fmt.Fprintf(out, "no lab process was running in %s\n", dir)
		return nil
	}
	fmt.Fprintf(out, "stopped: %s\n", strings.Join(stopped, ", "))
	return err
}

// stopLab asks the daemon to stop its processes, waits for it, then
// stops whatever still has a pid file (a crashed daemon's children) and
// the daemon itself if it did not exit.
func stopLab(dir string) ([]string, error) {
	dpid := filepath.Join(dir, daemonPid)
	wasRunning := proc.AliveFile(dpid)
	if c, _, err := client(dir); err == nil && wasRunning {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if c.Shutdown(ctx) == nil {
			for deadline := time.Now().Add(30 * time.Second); proc.AliveFile(dpid) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
			}
		}
		cancel()
	}
	stopped, err := proc.StopAll(dir, 5*time.Second)
	proc.StopFile(dpid, 5*time.Second)
	if wasRunning {
		stopped = append([]string{"daemon"}, stopped...)
	}
	return stopped, err
}
