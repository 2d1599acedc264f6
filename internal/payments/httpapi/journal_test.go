package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/paymentclaims"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

// journalOn gives e's service the journal table (created by the caller,
// shared between Regions) in Region region.
func journalOn(e *env, client *dynamodb.Client, table, region string) *claims.Journal {
	j := &claims.Journal{Client: client, Table: table}
	e.handler.Service.Journal = paymentclaims.Journal{J: j}
	e.handler.Service.Region = region
	return j
}

// twoRegions: two services with a database each and one journal whose
// writer is us-east-1 (east).
func twoRegions(t *testing.T) (east, west *env, j *claims.Journal) {
	client, table := backends.JournalTable(t)
	east, west = primary(t), primary(t)
	j = journalOn(east, client, table, "us-east-1")
	journalOn(west, client, table, "us-east-2")
	makeWriter(t, j, "us-east-1")
	return east, west, j
}

// makeWriter records region as the journal's writer at the next epoch, as
// a move does before it promotes a database, and waits until no service
// admits a request on a confirmation read before.
func makeWriter(t *testing.T, j *claims.Journal, region string) {
	t.Helper()
	ctx := context.Background()
	w, found, err := j.ReadWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.SetWriter(ctx, region, w.Epoch, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if found {
		time.Sleep(payments.WriterRecheck)
	}
}

func paymentsOfKey(t *testing.T, e *env, key string) []string {
	t.Helper()
	rows, err := e.admin.Query("SELECT id FROM payments WHERE idempotency_key = ?", key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Two Regions with writable databases take the same key at the same
// moment (an old writer that returned unfenced): only the journal's
// writer claims and commits; the other refuses with 503
// region_not_writer, writes nothing, and its /health sends traffic away.
func TestOnlyTheJournalsWriterClaims(t *testing.T) {
	east, west, j := twoRegions(t)
	for i := range 10 {
		key := fmt.Sprintf("both-%d", i)
		var wg sync.WaitGroup
		var re, rw reply
		wg.Add(2)
		go func() { defer wg.Done(); re = east.do(t, "POST", "/payments", key, body1, nil) }()
		go func() { defer wg.Done(); rw = west.do(t, "POST", "/payments", key, body1, nil) }()
		wg.Wait()
		if re.status != http.StatusCreated || rw.status != http.StatusServiceUnavailable || errCode(rw) != "region_not_writer" {
			t.Fatalf("%s: east %d %v, west %d %v; want 201 and 503 region_not_writer", key, re.status, re.body, rw.status, rw.body)
		}
		if ids := paymentsOfKey(t, west, key); len(ids) != 0 {
			t.Errorf("%s: the Region that is not the writer committed %v", key, ids)
		}
		if c, _, err := j.Get(context.Background(), key); err != nil || c.PaymentID != re.body["id"] || c.State != claims.StateCommitted {
			t.Errorf("%s: claim %+v %v, want east's payment committed", key, c, err)
		}
	}
	h := west.do(t, "GET", "/health", "", "", nil)
	if h.status != http.StatusServiceUnavailable || h.body["writerError"] != "not_writer" || h.body["writerRegion"] != "us-east-1" || h.body["dbWritable"] != true {
		t.Errorf("health of the Region that is not the writer: %d %v", h.status, h.body)
	}
	if h := east.do(t, "GET", "/health", "", "", nil); h.status != http.StatusOK {
		t.Errorf("health of the writer: %d %v", h.status, h.body)
	}
}

// A key claimed in one Region, retried in the other once the writer
// moved there, with another body, is a conflict there too; with its
// body, it is the claimed payment.
func TestRetryInTheOtherRegion(t *testing.T) {
	east, west, j := twoRegions(t)
	first := east.do(t, "POST", "/payments", "k-move", body1, nil)
	if first.status != http.StatusCreated {
		t.Fatalf("create: %d %v", first.status, first.body)
	}
	makeWriter(t, j, "us-east-2")
	other := `{"amount":999,"currency":"EUR","merchantRef":"m-1","customerRef":"c-1","sessionId":"s-1"}`
	if r := west.do(t, "POST", "/payments", "k-move", other, nil); r.status != http.StatusConflict {
		t.Errorf("another body in the other Region: %d %v, want 409", r.status, r.body)
	}
	r := west.do(t, "POST", "/payments", "k-move", body1, nil)
	if r.status != http.StatusOK || r.body["id"] != first.body["id"] || r.body["region"] != "us-east-1" {
		t.Errorf("retry in the other Region: %d %v, want the claimed payment %v", r.status, r.body, first.body["id"])
	}
	if ids := paymentsOfKey(t, west, "k-move"); len(ids) != 1 || ids[0] != first.body["id"] {
		t.Errorf("the other Region's database holds %v, want the claimed payment completed there", ids)
	}
}

// A claim made by a process that died before its commit (the claim is
// written, the database lacks it): the retry completes it, once.
func TestRetryCompletesAClaimWithoutCommit(t *testing.T) {
	east, west, j := twoRegions(t)
	ctx := context.Background()
	claimedAt := time.Now().UTC().Truncate(time.Microsecond)
	c := claims.Claim{Key: "k-crash", PaymentID: payments.NewID(), RequestHash: payments.RequestHash(payments.Request{
		Amount: 1250, Currency: "EUR", MerchantRef: "m-1", CustomerRef: "c-1", SessionID: "s-1"}),
		Amount: 1250, Currency: "EUR", MerchantRef: "m-1", CustomerRef: "c-1", SessionID: "s-1",
		Status: claims.StatusProcessed, Region: "us-east-2", ClaimedAt: claimedAt}
	if _, err := j.Claim(ctx, c); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	replies := make([]reply, 4)
	for i := range replies {
		wg.Add(1)
		go func() { defer wg.Done(); replies[i] = east.do(t, "POST", "/payments", "k-crash", body1, nil) }()
	}
	wg.Wait()
	for _, r := range replies {
		if r.status != http.StatusOK || r.body["id"] != c.PaymentID {
			t.Errorf("retry: %d %v, want the claimed payment %s", r.status, r.body, c.PaymentID)
		}
	}
	if ids := paymentsOfKey(t, east, "k-crash"); len(ids) != 1 {
		t.Errorf("payments of the key %v, want exactly the claimed one", ids)
	}
	if n := paymentstest.Count(t, east.admin, "SELECT COUNT(*) FROM ledger_entries WHERE payment_id = ?", c.PaymentID); n != 2 {
		t.Errorf("%d ledger entries, want 2", n)
	}
	if len(paymentsOfKey(t, west, "k-crash")) != 0 {
		t.Error("the other Region's database was written")
	}
}

// A Region whose database is read-only commits nothing: its claim is
// aborted and its time item removed, so the "not applied" answer stays
// true after a replay.
func TestCommitRefusedAbortsTheClaim(t *testing.T) {
	client, table := backends.JournalTable(t)
	standby := newEnv(t, backends.EnvMySQLSecondaryDSN, backends.EnvMySQLSecondaryAdminDSN)
	j := journalOn(standby, client, table, "us-east-2")
	makeWriter(t, j, "us-east-2") // recorded, not yet promoted
	r := standby.do(t, "POST", "/payments", "k-ro", body1, nil)
	if r.status != http.StatusServiceUnavailable || errCode(r) != "region_read_only" {
		t.Fatalf("create on a read-only database: %d %v", r.status, r.body)
	}
	if c, found, err := j.Get(context.Background(), "k-ro"); err != nil || !found || c.State != claims.StateAborted {
		t.Errorf("claim after a refused commit: %+v found=%v err=%v; want it aborted", c, found, err)
	}
}

// journalWrites counts the DynamoDB write operations a client sends.
type journalWrites struct {
	next aws.HTTPClient
	n    atomic.Int64
}

func (c *journalWrites) Do(r *http.Request) (*http.Response, error) {
	switch r.Header.Get("X-Amz-Target") {
	case "DynamoDB_20120810.PutItem", "DynamoDB_20120810.DeleteItem":
		c.n.Add(1)
	}
	return c.next.Do(r)
}

// Clients that still reach a standby after a move, and retry, cost the
// journal one claim and its release, not three writes replicated to
// every Region per attempt: the read-only answer stops the claims for
// payments.ReadOnlyHold.
func TestReadOnlyRegionStopsClaiming(t *testing.T) {
	client, table := backends.JournalTable(t)
	writes := &journalWrites{}
	counted := dynamodb.New(client.Options(), func(o *dynamodb.Options) {
		writes.next = o.HTTPClient
		o.HTTPClient = writes
	})
	standby := newEnv(t, backends.EnvMySQLSecondaryDSN, backends.EnvMySQLSecondaryAdminDSN)
	journalOn(standby, counted, table, "us-east-2")
	makeWriter(t, &claims.Journal{Client: client, Table: table}, "us-east-2")
	for i := range 20 {
		r := standby.do(t, "POST", "/payments", fmt.Sprintf("k-ro-burst-%d", i), body1, nil)
		if r.status != http.StatusServiceUnavailable || errCode(r) != "region_read_only" {
			t.Fatalf("payment %d on a read-only database: %d %v", i, r.status, r.body)
		}
	}
	// One claim (claim item and time item) and its abort (the claim item).
	if n := writes.n.Load(); n != 3 {
		t.Errorf("20 payments refused by a read-only database cost %d journal writes, want 3", n)
	}
}

func wireClient(url string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), RetryMaxAttempts: 1})
}

// A journal that cannot be reached: 503 backend_unavailable, nothing in
// the database, and /health says the Region takes no payments.
func TestJournalUnreachable(t *testing.T) {
	e := primary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	journalOn(e, wireClient(url), "payment-journal-test", "us-east-1")
	r := e.do(t, "POST", "/payments", "k-down", body1, nil)
	if r.status != http.StatusServiceUnavailable || errCode(r) != "backend_unavailable" {
		t.Errorf("create: %d %v, want 503 backend_unavailable", r.status, r.body)
	}
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); n != 0 {
		t.Errorf("%d payments in the database", n)
	}
	h := e.do(t, "GET", "/health", "", "", nil)
	if h.status != http.StatusServiceUnavailable || h.body["journalError"] != "no_majority" || h.body["status"] != "unavailable" {
		t.Errorf("health: %d %v", h.status, h.body)
	}
}

// A Region without a majority: MRSC answers writes and strongly
// consistent reads with HTTP 500 InternalServerError (DynamoDB API
// Reference, "Common errors": the request may or may not have been
// applied). The claim cannot be undone there, so the answer is
// outcome_unknown — never an acknowledgment — and nothing commits.
func TestJournalWithoutMajority(t *testing.T) {
	e := primary(t)
	var reads atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.GetItem" && reads.Add(1) == 1 {
			// The writer record, read just before the majority was lost.
			fmt.Fprint(w, `{"Item":{"pk":{"S":"writer"},"sk":{"S":"writer"},"region":{"S":"us-east-1"},"epoch":{"N":"1"}}}`)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"no majority"}`)
	}))
	defer srv.Close()
	journalOn(e, wireClient(srv.URL), "payment-journal-test", "us-east-1")
	r := e.do(t, "POST", "/payments", "k-iso", body1, nil)
	if r.status != http.StatusServiceUnavailable || errCode(r) != "outcome_unknown" {
		t.Errorf("create: %d %v, want 503 outcome_unknown", r.status, r.body)
	}
	if n := paymentstest.Count(t, e.admin, "SELECT COUNT(*) FROM payments"); n != 0 {
		t.Errorf("%d payments in the database", n)
	}
	time.Sleep(payments.WriterRecheck) // the confirmation the claim was admitted on no longer counts
	if h := e.do(t, "GET", "/health", "", "", nil); h.status != http.StatusServiceUnavailable || h.body["journalError"] != "no_majority" {
		t.Errorf("health: %d %v", h.status, h.body)
	}
}

// The failover's replay: the payments claimed and committed in the old
// writer's database, missing from the new one, are completed there, key
// for key; a second replay finds them present.
func TestReplayCompletesTheMissingPayments(t *testing.T) {
	east, west, j := twoRegions(t)
	from := time.Now().Add(-time.Minute)
	want := map[string]string{}
	for i := range 12 {
		key := fmt.Sprintf("lost-%d", i)
		r := east.do(t, "POST", "/payments", key, body1, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %v", r.status, r.body)
		}
		want[key] = r.body["id"].(string)
	}
	makeWriter(t, j, "us-east-2")
	// One payment the new writer already has (replicated in time).
	if r := west.do(t, "POST", "/payments", "lost-0", body1, nil); r.status != http.StatusOK {
		t.Fatalf("retry in the new Region: %d %v", r.status, r.body)
	}
	ctx := context.Background()
	res, err := west.handler.Service.ReplayJournal(ctx, from, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range res.Replayed {
		got[string(k.Key)] = k.PaymentID
	}
	if len(got) != 11 || res.Present != 1 {
		t.Errorf("replayed %d (%v), present %d; want 11 and 1", len(got), got, res.Present)
	}
	for key, id := range want {
		if key != "lost-0" && got[key] != id {
			t.Errorf("%s: replayed %q, want %s", key, got[key], id)
		}
		if ids := paymentsOfKey(t, west, key); len(ids) != 1 || ids[0] != id {
			t.Errorf("%s: new writer holds %v, want %s", key, ids, id)
		}
	}
	again, err := west.handler.Service.ReplayJournal(ctx, from, time.Now())
	if err != nil || len(again.Replayed) != 0 || again.Present != 12 {
		t.Errorf("second replay: %+v, %v", again, err)
	}
}

// lose creates n payments in east (keys prefix-0 ...) and returns their
// ids by key: acknowledged by the old writer, missing from west's database.
func lose(t *testing.T, east *env, prefix string, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		key := fmt.Sprintf("%s-%d", prefix, i)
		r := east.do(t, "POST", "/payments", key, body1, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %v", r.status, r.body)
		}
		want[key] = r.body["id"].(string)
	}
	return want
}

// replayedInto collects an answer's keys into got, failing on a key
// replayed twice, and checks that west's database holds each one once.
func replayedInto(t *testing.T, west *env, res payments.ReplayResult, want, got map[string]string) {
	t.Helper()
	for _, k := range res.Replayed {
		key := string(k.Key)
		if _, twice := got[key]; twice {
			t.Errorf("%s replayed twice", key)
		}
		got[key] = k.PaymentID
		if ids := paymentsOfKey(t, west, key); len(ids) != 1 || ids[0] != want[key] {
			t.Errorf("%s: new writer holds %v, want %s", key, ids, want[key])
		}
	}
}

// A window with more missing payments than one answer may list is
// answered Incomplete with a full page; the same window asked again
// completes the rest, and together the answers list every payment once.
func TestReplayPagesAWindowLargerThanOneAnswer(t *testing.T) {
	east, west, j := twoRegions(t)
	from := time.Now().Add(-time.Minute)
	want := lose(t, east, "paged", 12)
	makeWriter(t, j, "us-east-2")
	west.handler.Service.ReplayPage = 7
	ctx := context.Background()
	got := map[string]string{}
	first, err := west.handler.Service.ReplayJournal(ctx, from, time.Now())
	if err != nil || !first.Incomplete || len(first.Replayed) != 7 || !strings.HasPrefix(first.Stopped, "page") {
		t.Fatalf("first answer: %d replayed, incomplete %v (%s), %v", len(first.Replayed), first.Incomplete, first.Stopped, err)
	}
	replayedInto(t, west, first, want, got)
	second, err := west.handler.Service.ReplayJournal(ctx, from, time.Now())
	if err != nil || second.Incomplete || len(second.Replayed) != 5 || second.Present != 7 {
		t.Fatalf("second answer: %d replayed, %d present, incomplete %v, %v", len(second.Replayed), second.Present, second.Incomplete, err)
	}
	replayedInto(t, west, second, want, got)
	for key, id := range want {
		if got[key] != id {
			t.Errorf("%s: replayed %q, want %s", key, got[key], id)
		}
	}
}

// slowHeld is a journal whose strongly consistent reads take a while, as
// cross-Region ones do under load.
type slowHeld struct {
	payments.Journal
	delay time.Duration
}

func (j slowHeld) Held(ctx context.Context, key string) (payments.Claimed, bool, error) {
	select {
	case <-time.After(j.delay):
	case <-ctx.Done():
		return payments.Claimed{}, false, ctx.Err()
	}
	return j.Journal.Held(ctx, key)
}

// A replay that cannot finish before its deadline (a Lambda invocation's
// end) stops starting completions in time and answers what it completed,
// Incomplete, instead of failing at the deadline with its work unreported;
// the same window asked again completes the rest.
func TestReplayStopsBeforeItsDeadlineWithItsProgress(t *testing.T) {
	east, west, j := twoRegions(t)
	from := time.Now().Add(-time.Minute)
	want := lose(t, east, "timed", 120)
	makeWriter(t, j, "us-east-2")
	svc := west.handler.Service
	svc.Journal = slowHeld{Journal: svc.Journal, delay: time.Second}
	// 120 completions, 16 at a time, each reading the journal for 1 s,
	// take longer than the 8 s this call has; it stops starting them after
	// 4 s (half of its time, being shorter than twice ReplayReserve), and
	// those in flight end in the 4 s left.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	got := map[string]string{}
	first, err := svc.ReplayJournal(ctx, from, time.Now())
	if err != nil || !first.Incomplete || len(first.Replayed) == 0 || len(first.Replayed) >= len(want) || !strings.HasPrefix(first.Stopped, "time") {
		t.Fatalf("deadline-bounded answer: %d of %d replayed, incomplete %v (%s), %v", len(first.Replayed), len(want), first.Incomplete, first.Stopped, err)
	}
	t.Logf("deadline-bounded answer: %d of %d replayed (%s)", len(first.Replayed), len(want), first.Stopped)
	replayedInto(t, west, first, want, got)
	second, err := svc.ReplayJournal(context.Background(), from, time.Now())
	if err != nil || second.Incomplete || second.Present != len(first.Replayed) {
		t.Fatalf("second answer: %d replayed, %d present, incomplete %v, %v", len(second.Replayed), second.Present, second.Incomplete, err)
	}
	replayedInto(t, west, second, want, got)
	if len(got) != len(want) {
		t.Errorf("%d of %d payments replayed", len(got), len(want))
	}
}
