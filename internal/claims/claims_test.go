package claims

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/backends"
)

func newClaim(key string, at time.Time) Claim {
	return Claim{Key: key, PaymentID: "p-" + key, RequestHash: "h-" + key, Amount: 1250, Currency: "EUR",
		MerchantRef: "m-1", CustomerRef: "c-1", SessionID: "s-1", Status: StatusProcessed, Region: "us-east-1", ClaimedAt: at}
}

func dynaliteJournal(t *testing.T) (*Journal, *dynamodb.Client) {
	c, table := backends.JournalTable(t)
	return &Journal{Client: c, Table: table}, c
}

func windowKeys(t *testing.T, j *Journal, from, to time.Time) []string {
	t.Helper()
	var keys []string
	if err := j.Window(context.Background(), from, to, func(c Claim) error { keys = append(keys, c.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// Against dynalite: the first claim of a key wins; a second claim of the
// key gets the first one back and leaves no time item of its own.
func TestClaimOnce(t *testing.T) {
	j, _ := dynaliteJournal(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 4, 10, 20, 30, 123456000, time.UTC)
	first := newClaim("key/1 ü", t0)
	first.Status, first.FailureReason = StatusDeclined, "amount_over_limit"
	got, err := j.Claim(ctx, first)
	if err != nil || !got.New {
		t.Fatalf("first claim: %+v, %v", got, err)
	}
	first.State = StatePending
	second := newClaim("key/1 ü", t0.Add(time.Minute))
	second.PaymentID = "p-other"
	got, err = j.Claim(ctx, second)
	if err != nil || got.New {
		t.Fatalf("second claim: %+v, %v; want the first claim back", got, err)
	}
	if got.Claim != first {
		t.Errorf("held claim %+v, want %+v", got.Claim, first)
	}
	if keys := windowKeys(t, j, t0.Add(-time.Hour), t0.Add(time.Hour)); len(keys) != 1 {
		t.Errorf("window holds %d time items, want 1 (the losing claim's time item removed): %q", len(keys), keys)
	}
	held, found, err := j.Get(ctx, "key/1 ü")
	if err != nil || !found || held != first {
		t.Errorf("Get = %+v, %v, %v", held, found, err)
	}
	if _, found, err := j.Get(ctx, "never claimed"); err != nil || found {
		t.Errorf("Get of an unclaimed key: found=%v err=%v", found, err)
	}
}

// Release removes only the releasing payment's claim.
func TestReleaseIsConditional(t *testing.T) {
	j, _ := dynaliteJournal(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 4, 10, 20, 0, 0, time.UTC)
	c := newClaim("k", t0)
	if _, err := j.Claim(ctx, c); err != nil {
		t.Fatal(err)
	}
	other := c
	other.PaymentID = "p-not-the-holder"
	if err := j.Release(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := j.Get(ctx, "k"); !found {
		t.Fatal("another payment's release removed the claim")
	}
	if err := j.Release(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := j.Get(ctx, "k"); found {
		t.Error("the holder's release left the claim")
	}
	if keys := windowKeys(t, j, t0.Add(-time.Hour), t0.Add(time.Hour)); len(keys) != 0 {
		t.Errorf("release left time items %q", keys)
	}
	if got, err := j.Claim(ctx, newClaim("k", t0.Add(time.Second))); err != nil || !got.New {
		t.Errorf("a released key can be claimed again: %+v, %v", got, err)
	}
}

// The window reads the claims between its edges, across minute buckets
// and pages, and nothing outside.
func TestWindow(t *testing.T) {
	j, _ := dynaliteJournal(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 4, 10, 20, 59, 0, time.UTC)
	var want []string
	claim := func(key string, at time.Time, in bool) {
		t.Helper()
		if _, err := j.Claim(ctx, newClaim(key, at)); err != nil {
			t.Fatal(err)
		}
		if in {
			want = append(want, key)
		}
	}
	claim("before", t0.Add(-time.Nanosecond), false)
	claim("edge-from", t0, true)
	// More than a page in one minute bucket.
	for i := range PageSize + 20 {
		claim(fmt.Sprintf("bulk-%04d", i), t0.Add(time.Second+time.Duration(i)*time.Millisecond), false)
	}
	claim("two-minutes-on", t0.Add(2*time.Minute), true)
	claim("edge-to", t0.Add(3*time.Minute), true)
	claim("after", t0.Add(3*time.Minute+time.Microsecond), false)
	got := windowKeys(t, j, t0, t0.Add(3*time.Minute))
	if len(got) != len(want)+PageSize+20 {
		t.Fatalf("window read %d claims, want %d", len(got), len(want)+PageSize+20)
	}
	seen := map[string]bool{}
	for _, k := range got {
		seen[k] = true
	}
	for _, k := range want {
		if !seen[k] {
			t.Errorf("window lacks %q", k)
		}
	}
	for _, k := range []string{"before", "after"} {
		if seen[k] {
			t.Errorf("window holds %q, outside its edges", k)
		}
	}
	if err := j.Window(ctx, t0, t0.Add(-time.Second), func(Claim) error { return nil }); err == nil {
		t.Error("a window ending before it starts was accepted")
	}
}

// The sweep removes the claims older than the retention, and only those,
// and continues from its cursor.
func TestSweepRemovesOnlyExpiredClaims(t *testing.T) {
	j, _ := dynaliteJournal(t)
	j.SweepLookback = 4 * time.Hour
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	retention := 72 * time.Hour
	expired := []time.Time{now.Add(-retention - 3*time.Hour), now.Add(-retention - time.Minute - time.Second)}
	kept := []time.Time{now.Add(-retention + time.Minute), now.Add(-time.Minute)}
	for i, at := range append(append([]time.Time{}, expired...), kept...) {
		if _, err := j.Claim(ctx, newClaim(fmt.Sprintf("k%d", i), at)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := j.Sweep(ctx, now, retention)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != len(expired) {
		t.Errorf("removed %d, want %d", res.Removed, len(expired))
	}
	for i := range expired {
		if _, found, _ := j.Get(ctx, fmt.Sprintf("k%d", i)); found {
			t.Errorf("expired claim k%d kept", i)
		}
	}
	for i := range kept {
		if _, found, _ := j.Get(ctx, fmt.Sprintf("k%d", len(expired)+i)); !found {
			t.Errorf("claim k%d within the retention removed", len(expired)+i)
		}
	}
	// The minutes around each claim (a window over the whole 75 hours would
	// cost a Query per shard of every minute).
	left := 0
	for _, at := range append(append([]time.Time{}, expired...), kept...) {
		left += len(windowKeys(t, j, at.Add(-time.Minute), at.Add(time.Minute)))
	}
	if left != len(kept) {
		t.Errorf("%d time items left, want %d", left, len(kept))
	}
	// The next run starts at the cursor and finds nothing more to do.
	again, err := j.Sweep(ctx, now.Add(time.Minute), retention)
	if err != nil || again.Removed != 0 || !again.Through.After(res.Through) {
		t.Errorf("second sweep %+v, %v (first through %s)", again, err, res.Through)
	}
	if _, err := j.Sweep(ctx, now, 0); err == nil {
		t.Error("a zero retention was accepted")
	}
}

// A released key's leftover claim item (another payment's) is not swept
// by an old time item of a different payment.
func TestSweepLeavesANewerHolder(t *testing.T) {
	j, client := dynaliteJournal(t)
	j.SweepLookback, j.SweepBatch = 30*time.Hour, 10
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	// In the first bucket the sweep reads (the retention's end − lookback).
	old := newClaim("k", now.Add(-72*time.Hour-30*time.Hour+30*time.Second))
	// An orphaned time item: written, but the key is held by another payment.
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.Table), Item: old.item(timeKey(old))}); err != nil {
		t.Fatal(err)
	}
	holder := newClaim("k", now.Add(-time.Hour))
	holder.PaymentID = "p-holder"
	if _, err := j.Claim(ctx, holder); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Sweep(ctx, now, 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, found, _ := j.Get(ctx, "k"); !found || got.PaymentID != "p-holder" {
		t.Errorf("the sweep removed the key's current holder: %+v found=%v", got, found)
	}
}

func TestGetRejectsAForeignItem(t *testing.T) {
	j, client := dynaliteJournal(t)
	ctx := context.Background()
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.Table), Item: map[string]types.AttributeValue{
		"pk": s(claimPrefix + encKey("k")), "sk": s(claimSK), "paymentId": s("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Get(ctx, "k"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("an item that is not a claim: %v", err)
	}
}

// BenchmarkClaim measures one claim against dynalite: the claim item and
// the time item written in parallel (on AWS each costs the round trip to
// the nearest other MRSC member instead).
func BenchmarkClaim(b *testing.B) {
	c, table := backends.JournalTable(b)
	j := &Journal{Client: c, Table: table}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	run := time.Now().UnixNano()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := j.Claim(ctx, newClaim(fmt.Sprintf("bench-%d-%d", run, i), time.Now())); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
}
