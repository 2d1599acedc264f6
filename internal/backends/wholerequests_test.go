package backends

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// dynalite exits when a client aborts a request mid-body (seen in the lab
// when region-down killed a payment service). Through WholeRequests the
// same abort never reaches it, and it keeps answering.
func TestAbortedRequestDoesNotKillDynalite(t *testing.T) {
	bin, err := FindDynalite("")
	if err != nil {
		Missing(t, err.Error())
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
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := StartDynalite(dir, bin, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(syscall.SIGKILL, time.Second) })
	return fmt.Sprintf("http://%s:%d", Host, port)
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

// The dynalite a test run shares sits behind WholeRequests as well: tests
// kill payment services, which may be mid-request to it.
func TestSharedDynamoDBSurvivesAnAbortedRequest(t *testing.T) {
	endpoint := Env(t, EnvDynamoDBEndpoint)
	abortMidBody(t, strings.TrimPrefix(endpoint, "http://"))
	for range 5 {
		if err := listTables(endpoint); err != nil {
			t.Fatalf("after an aborted request, the shared DynamoDB endpoint: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServeFrontServesLoopbackOnly(t *testing.T) {
	for _, c := range []struct{ listen, upstream string }{
		{"0.0.0.0:1", "http://127.0.0.1:1"},
		{"127.0.0.1", "http://127.0.0.1:1"},
		{"127.0.0.1:1", "http://10.0.0.1:1"},
		{"127.0.0.1:1", "https://127.0.0.1:1"},
		{"127.0.0.1:1", ""},
	} {
		err := ServeFront(t.Context(), c.listen, c.upstream)
		if err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("ServeFront(%q, %q) = %v, want a refusal naming the expected form", c.listen, c.upstream, err)
		}
	}
}
