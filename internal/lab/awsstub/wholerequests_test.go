package awsstub

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dynalite exits when a client aborts a request mid-body (seen in the lab
// when region-down killed a payment service). Through WholeRequests the
// same abort never reaches it, and it keeps answering.
func TestAbortedRequestDoesNotKillDynalite(t *testing.T) {
	bin := filepath.Join("..", "..", "..", "tools", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("dynalite is missing (%v): make tools/node_modules/.installed", err)
		}
		t.Skip("dynalite is not installed: make tools/node_modules/.installed")
	}
	upstream := startDynalite(t, bin)
	h, err := WholeRequests(upstream)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()

	for i := range 3 {
		abortMidBody(t, strings.TrimPrefix(front.URL, "http://"))
		if err := listTables(front.URL); err != nil {
			t.Fatalf("after aborted request %d, dynalite behind the front: %v", i+1, err)
		}
	}
	// The same abort sent straight to dynalite shows what the front is for.
	abortMidBody(t, strings.TrimPrefix(upstream, "http://"))
	deadline := time.Now().Add(5 * time.Second)
	for listTables(upstream) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if listTables(upstream) == nil {
		t.Log("this dynalite survived an aborted request: the front is no longer needed")
	}
}

func startDynalite(t *testing.T, bin string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if listTables(u) == nil {
			return u
		}
	}
	t.Fatal("dynalite did not start")
	return ""
}

// abortMidBody announces a 100-byte body, sends 10 bytes and closes.
func abortMidBody(t *testing.T, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 100\r\n\r\n{\"Limit\":", addr)
	time.Sleep(50 * time.Millisecond)
	c.Close()
	time.Sleep(100 * time.Millisecond)
}

func listTables(base string) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=lab/20261125/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	req.Header.Set("X-Amz-Date", "20261125T000000Z")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "TableNames") {
		return fmt.Errorf("ListTables: %d %s", resp.StatusCode, b)
	}
	return nil
}
