package link

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves one line back per connection.
func echo(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

// A cut link refuses connections and closes open ones; restored, it
// carries traffic again on the same port; the latency changes in place.
func TestCutRestoreAndLatency(t *testing.T) {
	l := New(io.Discard)
	defer l.Close()
	addr, err := l.Add("us-east-1", "127.0.0.1:0", echo(t), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(addr); err != nil {
		t.Fatalf("through the link: %v", err)
	}
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	l.Cut()
	if err := roundTrip(addr); err == nil {
		t.Fatal("a cut link carried traffic")
	}
	_ = open.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection open across the cut survived")
	}
	if !l.State().Cut["us-east-1"] {
		t.Fatal("state does not say cut")
	}
	if err := l.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLatency(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(addr); err != nil {
		t.Fatalf("after restore: %v", err)
	}
	if st := l.State(); st.Cut["us-east-1"] || st.LatencyMs != 20 {
		t.Fatalf("state %+v", st)
	}
}
