// Package proc starts and stops the processes of the DR lab and of the
// test backends, and picks their loopback ports. Every process gets a log
// file and a pid file in its run directory, so `drlab down` (or a failed
// `drlab up`, or the end of a test run) stops exactly the processes that
// were started, even after the program that started them is gone.
package proc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a started process.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	dir  string
	done chan struct{}
	err  error
}

// Start runs bin with args and env in its own process group (a Ctrl-C in
// the terminal must not kill the lab), output to DIR/logs/<name>.log, pid
// in DIR/pids/<name>.pid.
func Start(dir, name, bin string, args, env []string) (*Proc, error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "pids"), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	logf.Close()
	p := &Proc{Name: name, Cmd: cmd, dir: dir, done: make(chan struct{})}
	if err := os.WriteFile(PidFile(dir, name), []byte(strconv.Itoa(cmd.Process.Pid)+" "+filepath.Base(bin)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// PidFile is where name's pid is kept.
func PidFile(dir, name string) string { return filepath.Join(dir, "pids", name+".pid") }

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Running reports whether the process is still alive.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends sig, waits up to grace, then kills it; the pid file goes.
func (p *Proc) Stop(sig syscall.Signal, grace time.Duration) {
	if p.Running() {
		_ = p.Cmd.Process.Signal(sig)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
	}
	os.Remove(PidFile(p.dir, p.Name))
}

// Log returns the last n bytes of the process's log, for error messages.
func Log(dir, name string, n int64) string {
	f, err := os.Open(filepath.Join(dir, "logs", name+".log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return strings.TrimSpace(string(b[:k]))
}

// StopAll stops every process that has a pid file in DIR/pids, checking
// that the pid still runs the program it was started as (a pid may have
// been reused since). It returns the names it stopped.
func StopAll(dir string, grace time.Duration) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	if err != nil {
		return nil, err
	}
	var stopped []string
	var errs []error
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		pid, prog, err := readPid(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if alive(pid, prog) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			deadline := time.Now().Add(grace)
			for alive(pid, prog) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if alive(pid, prog) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			stopped = append(stopped, name)
		}
		os.Remove(f)
	}
	return stopped, errors.Join(errs...)
}

func readPid(f string) (int, string, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, "", err
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 0, "", fmt.Errorf("%s: want \"PID PROGRAM\"", f)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 1 {
		return 0, "", fmt.Errorf("%s: bad pid %q", f, fields[0])
	}
	return pid, fields[1], nil
}

// alive: the pid exists, is not a zombie, and its command line names prog.
func alive(pid int, prog string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	// A process still inside execve has an empty command line for a
	// moment (the kernel lets a vfork parent go on before it sets the new
	// program's arguments): wait for it rather than call it another program.
	var cmdline []byte
	for range 50 {
		if cmdline, err = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil {
			return false
		}
		if len(cmdline) > 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	first := strings.SplitN(string(cmdline), "\x00", 2)[0]
	return filepath.Base(first) == prog || strings.Contains(string(cmdline), prog)
}

// FreePort picks a free loopback TCP port below the kernel's ephemeral
// range (see ListenLoopback), for a server started later to bind. Only
// another process choosing ports itself can take it meanwhile.
func FreePort() (int, error) {
	l, err := ListenLoopback()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ListenLoopback listens on a free loopback TCP port below the kernel's
// ephemeral range that this process has not been given before. The lab
// closes some of its ports to hand them to another server (etcd,
// Toxiproxy, MariaDB): a port from the ephemeral range could be given
// meanwhile to one of the lab's own outgoing connections as its local
// port, and a port handed out twice to two of its servers; either
// server's start would fail. Ports are taken one after another from a
// random start, so two processes starting labs at once rarely pick from
// the same stretch.
func ListenLoopback() (net.Listener, error) {
	given.Lock()
	defer given.Unlock()
	low := ephemeralLow()
	if span := low - lowestPickedPort; span > 1 {
		if given.next == 0 {
			given.next = lowestPickedPort + rand.IntN(span)
		}
		for range 200 {
			p := given.next
			given.next++
			if given.next >= low {
				given.next = lowestPickedPort
			}
			if given.ports[p] {
				continue
			}
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				given.ports[p] = true
				return l, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		given.ports[l.Addr().(*net.TCPAddr).Port] = true
	}
	return l, err
}

// given are the ports ListenLoopback returned in this process, and the
// next it tries.
var given = struct {
	sync.Mutex
	ports map[int]bool
	next  int
}{ports: map[int]bool{}}

// lowestPickedPort keeps FreePort above the ports services commonly use.
const lowestPickedPort = 10000

// ephemeralLow is the first port of the kernel's ephemeral range
// (ip_local_port_range; Linux's default 32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// WaitTCP waits until something accepts on addr or p exits.
func WaitTCP(p *Proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			// Something answers; make sure it is ours: a process that
			// could not bind a port another program holds exits at once.
			select {
			case <-p.done:
				return fmt.Errorf("port %s is taken by another program (%s exited: %s)", addr, p.Name, Log(p.dir, p.Name, 300))
			case <-time.After(150 * time.Millisecond):
				return nil
			}
		}
		if !p.Running() {
			return fmt.Errorf("%s exited before listening on %s: %s", p.Name, addr, Log(p.dir, p.Name, 600))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within %s; log: %s", p.Name, addr, timeout, filepath.Join(p.dir, "logs", p.Name+".log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AliveFile reports whether the process of a pid file runs.
func AliveFile(pidFile string) bool {
	pid, prog, err := readPid(pidFile)
	return err == nil && alive(pid, prog)
}

// StopFile stops the process of one pid file (SIGTERM, then SIGKILL after
// grace) and removes the file. It reports whether the process was running.
func StopFile(pidFile string, grace time.Duration) bool {
	pid, prog, err := readPid(pidFile)
	if err != nil {
		return false
	}
	running := alive(pid, prog)
	if running {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for deadline := time.Now().Add(grace); alive(pid, prog) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid, prog) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	os.Remove(pidFile)
	return running
}
