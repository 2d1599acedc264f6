package backends

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// TestServer is a MariaDB server with the test accounts (TestUsers).
type TestServer struct {
	*MariaDB
	AdminDSN string // payments_admin: everything
	AppDSN   string // payments_app: no privileges until a database grants them
}

// startTestServer installs and starts a server with the test accounts.
func startTestServer(ctx context.Context, runDir, name string, bin Binaries, flags ...string) (*TestServer, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Name: name, Dir: filepath.Join(runDir, name), Port: port, Bin: bin, Flags: flags}
	if err := m.Install(ctx); err != nil {
		return nil, err
	}
	if err := m.Start(ctx, runDir); err != nil {
		m.Stop()
		return nil, err
	}
	root, err := m.Root()
	if err == nil {
		err = CreateUsers(ctx, root, TestUsers())
		root.Close()
	}
	if err != nil {
		m.Stop()
		return nil, err
	}
	return &TestServer{MariaDB: m, AdminDSN: m.DSN(AdminUser, TestAdminPassword, ""), AppDSN: m.DSN(AppUser, TestAppPassword, "")}, nil
}

// StartMariaDB starts a private server for one test, with extraFlags
// (e.g. "--innodb-read-only"), so the test may freeze it or start it
// with options the shared servers lack: never do that to the shared
// servers. It stops, data and all, when the test ends.
func StartMariaDB(t TB, extraFlags ...string) *TestServer {
	t.Helper()
	bin, err := FindBinaries()
	if err != nil {
		Missing(t, "the test needs a private MariaDB server: "+err.Error())
	}
	dir := t.TempDir()
	s, err := startTestServer(context.Background(), dir, "mariadb", bin, extraFlags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartShared starts the servers a whole test run shares, in runDir: a
// writable primary, a read-only secondary (the Aurora secondary, which
// tests may promote or demote on databases of their own) and dynalite
// (bin) behind its front: front is the command that serves
// WholeRequests (see ServeFront), to which StartShared adds the listen
// address and the upstream; tests kill payment services mid-request, and
// a request aborted mid-body would end dynalite for the whole run. It
// returns the variables (Env*) that point the tests at them. StopShared
// (runDir) stops them, also from another process.
func StartShared(ctx context.Context, runDir, dynalite string, front []string) (map[string]string, error) {
	if len(front) == 0 {
		return nil, errors.New("no command for dynalite's front")
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	var primary, secondary *TestServer
	var endpoint string
	errs := make([]error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); primary, errs[0] = startTestServer(ctx, runDir, "primary", bin) }()
	go func() {
		defer wg.Done()
		secondary, errs[1] = startTestServer(ctx, runDir, "secondary", bin, "--read-only")
	}()
	endpoint, errs[2] = startFrontedDynalite(runDir, dynalite, front)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = StopShared(runDir)
		return nil, err
	}
	return map[string]string{
		EnvMySQLDSN: primary.AppDSN, EnvMySQLAdminDSN: primary.AdminDSN,
		EnvMySQLSecondaryDSN: secondary.AppDSN, EnvMySQLSecondaryAdminDSN: secondary.AdminDSN,
		EnvDynamoDBEndpoint: endpoint,
	}, nil
}

// startFrontedDynalite starts dynalite and its front (see StartShared)
// and returns the front's URL.
func startFrontedDynalite(runDir, dynalite string, front []string) (string, error) {
	port, err := proc.FreePort()
	if err != nil {
		return "", err
	}
	frontPort, err := proc.FreePort()
	if err != nil {
		return "", err
	}
	if _, err := StartDynalite(runDir, dynalite, port); err != nil {
		return "", err
	}
	listen := net.JoinHostPort(Host, strconv.Itoa(frontPort))
	args := append(slices.Clone(front[1:]), "-listen", listen, "-upstream", fmt.Sprintf("http://%s:%d", Host, port))
	p, err := proc.Start(runDir, "dynalite-front", front[0], args, os.Environ())
	if err != nil {
		return "", err
	}
	if err := proc.WaitTCP(p, listen, 10*time.Second); err != nil {
		return "", err
	}
	return "http://" + listen, nil
}

// ServeFront serves WholeRequests(upstream) on listen until ctx ends.
func ServeFront(ctx context.Context, listen, upstream string) error {
	if u, err := url.Parse(upstream); err != nil || u.Scheme != "http" || u.Hostname() != Host {
		return fmt.Errorf("-upstream %q: want http://%s:PORT", upstream, Host)
	}
	h, err := WholeRequests(upstream)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host != Host {
		return fmt.Errorf("-listen %q: want %s:PORT (the front serves loopback only)", listen, Host)
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// StopShared stops every server StartShared started in runDir.
func StopShared(runDir string) error {
	_, err := proc.StopAll(runDir, 20*time.Second)
	return err
}

// Dynamo returns a client of the shared dynalite and a fresh session
// table of the test's own.
func Dynamo(t TB) (*dynamodb.Client, string) {
	t.Helper()
	c := DynamoDB(Env(t, EnvDynamoDBEndpoint), "us-east-1")
	table := "payment-sessions-" + randomID()
	if err := CreateSessionTable(context.Background(), c, table); err != nil {
		t.Fatal(err)
	}
	return c, table
}

// JournalTable returns a client of the shared dynalite and a fresh
// payment journal table of the test's own.
func JournalTable(t TB) (*dynamodb.Client, string) {
	t.Helper()
	c := DynamoDB(Env(t, EnvDynamoDBEndpoint), "us-east-1")
	table := "payment-journal-" + randomID()
	if err := CreateJournalTable(context.Background(), c, table); err != nil {
		t.Fatal(err)
	}
	return c, table
}

// NewEventBridge starts an EventBus for one test; it stops when the test
// ends.
func NewEventBridge(t TB) *EventBus {
	t.Helper()
	b := &EventBus{}
	b.URL = Serve(t, b)
	return b
}

// NewSecretsManager starts a SecretsManager serving values for one test;
// it stops when the test ends.
func NewSecretsManager(t TB, values map[string]string) *SecretsManager {
	t.Helper()
	s := NewSecretsManagerHandler(values)
	s.URL = Serve(t, s)
	return s
}

// Serve serves h on a free loopback port until the test ends and returns
// its base URL.
func Serve(t TB, h http.Handler) string {
	t.Helper()
	url, stop, err := ServeLoopback(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// ServeLoopback serves h on a free loopback port; stop ends it.
func ServeLoopback(h http.Handler) (url string, stop func(), err error) {
	l, err := net.Listen("tcp", Host+":0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// JournalTableAt is JournalTable behind a front that adds l to every
// call, as AWS's round trips would (AWSLatency).
func JournalTableAt(t TB, l AWSLatency) (*dynamodb.Client, string) {
	t.Helper()
	_, table := JournalTable(t)
	proxy, err := WholeRequests(Env(t, EnvDynamoDBEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	return DynamoDB(Serve(t, l.Handler(proxy)), "us-east-1"), table
}
