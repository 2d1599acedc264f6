package awsops

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// Calls that are not safe to repeat go out once even when their first
// attempt answers 500 (which the SDK's standard retryer repeats): the
// request may have taken effect. The caller reads state instead.
func TestCallsUnsafeToRepeatAreSentOnce(t *testing.T) {
	a, w := startWorldWith(t, now, func(c *aws.Config) { *c = Bounded(*c, AttemptTimeout, MaxBackoff) })
	ctx := context.Background()
	w.fail500["rds FailoverGlobalCluster"], w.fail500["rds SwitchoverGlobalCluster"] = 1, 1
	if err := a.Failover(ctx, "us-west-2", false); err == nil {
		t.Error("a failover answered 500 reported success")
	}
	if err := a.Switchover(ctx, "us-west-2"); err == nil {
		t.Error("a switchover answered 500 reported success")
	}
	for _, op := range []string{"rds us-west-2 FailoverGlobalCluster", "rds us-west-2 SwitchoverGlobalCluster"} {
		if n := len(w.sent(op)); n != 1 {
			t.Errorf("%s sent %d times, want once", op, n)
		}
	}
}

// An INSERT inside a Data API transaction and its commit are sent once:
// repeated, the INSERT would collide with its own first copy and read as
// a taken key. A read outside a transaction is retried.
func TestDataAPIStatementsInATransactionAreSentOnce(t *testing.T) {
	db := paymentsDB(t, "PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN", "dapionce")
	_, dst, _, w := dataWorld(t, db, db)
	ctx := context.Background()
	row := mysqlstore.NewRow(payments.Payment{ID: "p-1", IdempotencyKey: "k-1", Amount: 5, Currency: "USD", MerchantRef: "m", CustomerRef: "c",
		SessionID: "s", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: now}, strings.Repeat("b", 64))
	w.fail500["rds-data /Execute"] = 1
	if _, err := dst.Apply(ctx, row); err == nil {
		t.Fatal("an INSERT answered 500 reported success")
	}
	if n := len(w.sent("rds-data us-west-2 /Execute")); n != 1 {
		t.Errorf("the INSERT was sent %d times, want once", n)
	}
	w.fail500["rds-data /CommitTransaction"] = 1
	if _, err := dst.Apply(ctx, row); err == nil || len(w.sent("rds-data us-west-2 /CommitTransaction")) != 1 {
		t.Errorf("commit answered 500: %v, sent %d times", err, len(w.sent("rds-data us-west-2 /CommitTransaction")))
	}
	w.fail500["rds-data /Execute"] = 1
	before := len(w.sent("rds-data us-west-2 /Execute"))
	if _, err := dst.Holders(ctx, []string{"k-1"}); err != nil || len(w.sent("rds-data us-west-2 /Execute")) != before+2 {
		t.Errorf("a read answered 500 once: %v, sent %d times, want twice", err, len(w.sent("rds-data us-west-2 /Execute"))-before)
	}
}

// A Data API statement may run for up to 45 s: one that takes longer than
// the other clients' per-attempt timeout completes in one attempt.
func TestDataAPIStatementMayOutlastTheDefaultAttemptTimeout(t *testing.T) {
	db := paymentsDB(t, "PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN", "dapislow")
	a, w := startWorldWith(t, now, func(c *aws.Config) { *c = Bounded(*c, AttemptTimeout, MaxBackoff) })
	const writerARN = "arn:aws:rds:us-west-2:111111111111:cluster:payments-us-west-2-dev"
	w.data = &dataAPI{txs: map[string]*sql.Tx{}, dbs: map[string]*sql.DB{writerARN: db}}
	dst := &DataSQL{Client: a.ReconcileData.Data["us-west-2"], Cluster: writerARN, Secret: "s", Database: "payments"}
	w.slow["rds-data /Execute"] = AttemptTimeout + 500*time.Millisecond
	if _, err := dst.Holders(context.Background(), []string{"k"}); err != nil {
		t.Fatal(err)
	}
	if n := len(w.sent("rds-data us-west-2 /Execute")); n != 1 {
		t.Errorf("the statement was sent %d times, want once", n)
	}
}
