package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
	"github.com/payment-dr/payment-dr/internal/payments/paymentstest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	_, admin, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	applied, err := mysqlstore.Migrate(context.Background(), admin)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migration applied %v (%v)", applied, err)
	}
	if n := paymentstest.Count(t, admin, "SELECT COUNT(*) FROM schema_migrations WHERE dirty = 0"); n != 5 {
		t.Errorf("%d recorded clean migrations", n)
	}
}

func payment(key string) payments.Payment {
	return payments.Payment{ID: payments.NewID(), IdempotencyKey: key, Amount: 5, Currency: "JPY", MerchantRef: "m", CustomerRef: "c",
		SessionID: "s", Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: time.Date(2026, 11, 25, 4, 0, 0, 123456000, time.UTC)}
}

func TestStoreRoundTripAndSchemaGuards(t *testing.T) {
	app, admin, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	s := mysqlstore.New(app)
	ctx := context.Background()
	p := payment("k")
	got, err := s.Create(ctx, p, "h1")
	if err != nil || !got.New || got.Hash != "h1" || !got.EventPending {
		t.Fatalf("create: %+v %v", got, err)
	}
	back, err := s.Get(ctx, p.ID)
	if err != nil || back != got.Payment {
		t.Fatalf("round trip:\n%+v\n%+v (%v)", back, got.Payment, err)
	}
	if _, err := s.Get(ctx, payments.NewID()); !errors.Is(err, payments.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	// The database itself refuses a non-positive amount, whatever the code does.
	bad := payment("k2")
	bad.Amount = 0
	if _, err := s.Create(ctx, bad, "h2"); err == nil {
		t.Error("zero amount stored")
	}
	if n := paymentstest.Count(t, admin, "SELECT COUNT(*) FROM payments"); n != 1 {
		t.Errorf("%d payments", n)
	}
	if n := paymentstest.Count(t, admin, "SELECT COUNT(*) FROM payment_outbox WHERE payment_id = ? AND sent_at IS NULL", p.ID); n != 1 {
		t.Errorf("%d outbox rows for the payment", n)
	}
	if ok, err := s.Writable(ctx); err != nil || !ok {
		t.Errorf("writable: %v %v", ok, err)
	}
}

// Present answers for a batch of ids in one read, and refuses a batch
// larger than MaxPresentBatch rather than building an unbounded query.
func TestPresentReadsWhichIDsTheDatabaseHolds(t *testing.T) {
	app, _, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	s := mysqlstore.New(app)
	ctx := context.Background()
	a, b := payment("present-a"), payment("present-b")
	for _, p := range []payments.Payment{a, b} {
		if _, err := s.Create(ctx, p, "h"); err != nil {
			t.Fatal(err)
		}
	}
	missing := payments.NewID()
	held, err := s.Present(ctx, []string{a.ID, missing, b.ID})
	if err != nil || len(held) != 2 || !held[a.ID] || !held[b.ID] || held[missing] {
		t.Fatalf("present: %v %v", held, err)
	}
	if held, err := s.Present(ctx, nil); err != nil || len(held) != 0 {
		t.Errorf("no ids: %v %v", held, err)
	}
	if _, err := s.Present(ctx, make([]string, payments.MaxPresentBatch+1)); err == nil {
		t.Error("a batch over MaxPresentBatch was read")
	}
}

// Keys compare byte for byte in the store, trailing spaces included
// (which HTTP trims from headers before the handler sees them).
func TestKeysCompareByteForByteIncludingTrailingSpaces(t *testing.T) {
	app, _, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	s := mysqlstore.New(app)
	for _, key := range []string{"k", "k ", "k  ", "K", " k"} {
		if got, err := s.Create(context.Background(), payment(key), "h"); err != nil || !got.New {
			t.Fatalf("key %q found another payment (%s): %v", key, got.Payment.IdempotencyKey, err)
		}
	}
}

// 0002 upgrades a database made by 0001 in place: its payments stay, and
// keys then compare exactly; the foreign key is back.
func TestExactKeyMigrationUpgradesAnExistingDatabase(t *testing.T) {
	_, admin, name := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	ctx := context.Background()
	for _, q := range []string{"DROP TABLE writer_marks", "DROP TABLE payment_outbox", "DROP TABLE ledger_entries", "DROP TABLE payments", "DROP TABLE schema_migrations"} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if applied, err := mysqlstore.MigrateUpTo(ctx, admin, "0001_payments.sql"); err != nil || len(applied) != 1 {
		t.Fatalf("0001: %v %v", applied, err)
	}
	old := payment("Order-1")
	if _, err := admin.ExecContext(ctx, `INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref,
	  customer_ref, session_id, status, region, created_at) VALUES (?, 'Order-1', 'h', 5, 'JPY', 'm', 'c', 's', 'processed', 'us-east-1', ?)`,
		old.ID, old.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if applied, err := mysqlstore.Migrate(ctx, admin); err != nil || strings.Join(applied, ",") != "0002_exact_keys.sql,0003_outbox.sql,0004_payments_created_index.sql,0005_writer_marks.sql" {
		t.Fatalf("upgrade: %v %v", applied, err)
	}
	if err := mysqlstore.EnsureAppUser(ctx, admin, paymentstest.LocalAppUser(t, backends.Env(t, backends.EnvMySQLDSN))); err != nil {
		t.Fatal(err)
	}
	app := appPool(t, name)
	s := mysqlstore.New(app)
	if got, err := s.Create(ctx, payment("Order-1"), "h"); err != nil || got.New || got.Payment.ID != old.ID {
		t.Fatalf("the old payment's key: %+v %v", got, err)
	}
	for _, key := range []string{"order-1", "Order-1 "} {
		if got, err := s.Create(ctx, payment(key), "h"); err != nil || !got.New {
			t.Errorf("key %q after the upgrade found %q (%v)", key, got.Payment.IdempotencyKey, err)
		}
	}
	_, err := admin.ExecContext(ctx, `INSERT INTO ledger_entries (payment_id, account, direction, amount, currency, created_at)
	  VALUES ('00000000000000000000000000000000', 'a', 'debit', 1, 'EUR', NOW())`)
	if mysqlCode(err) != 1452 {
		t.Errorf("ledger entry without a payment: %v, want the foreign key's 1452", err)
	}
}

// A migration that fails half-way is left dirty and stops the next run
// with what to do.
func TestDirtyMigrationStopsTheNextRun(t *testing.T) {
	_, admin, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "UPDATE schema_migrations SET dirty = 1 WHERE version = '0003_outbox.sql'"); err != nil {
		t.Fatal(err)
	}
	_, err := mysqlstore.Migrate(ctx, admin)
	if err == nil || !strings.Contains(err.Error(), "0003_outbox.sql is dirty") || !strings.Contains(err.Error(), "DELETE FROM schema_migrations") {
		t.Fatalf("dirty migration: %v", err)
	}
}

// Aurora marks a secondary with innodb_read_only, MySQL/MariaDB a replica
// with read_only: each alone makes the database not writable. MariaDB
// takes innodb_read_only only at startup, so a private server is started
// with it.
func TestWritableFollowsBothReadOnlyFlags(t *testing.T) {
	ctx := context.Background()
	app, admin, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	_ = admin
	if ok, err := mysqlstore.New(app).Writable(ctx); err != nil || !ok {
		t.Fatalf("writable primary: %v %v", ok, err)
	}
	ro := backends.StartMariaDB(t, "--read-only")
	roDB := open(t, ro.AppDSN)
	if ok, err := mysqlstore.New(roDB).Writable(ctx); err != nil || ok {
		t.Errorf("read_only=1: writable %v (%v)", ok, err)
	}
	inno := backends.StartMariaDB(t, "--innodb-read-only")
	innoDB := open(t, inno.AppDSN)
	var ro1, inno1 int
	if err := innoDB.QueryRow("SELECT @@global.read_only, @@global.innodb_read_only").Scan(&ro1, &inno1); err != nil || ro1 != 0 || inno1 != 1 {
		t.Fatalf("setup: read_only %d innodb_read_only %d (%v)", ro1, inno1, err)
	}
	if ok, err := mysqlstore.New(innoDB).Writable(ctx); err != nil || ok {
		t.Errorf("innodb_read_only=1: writable %v (%v)", ok, err)
	}
}

func open(t *testing.T, dsn string) *sql.DB {
	db, err := mysqlstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func appPool(t *testing.T, dbName string) *sql.DB {
	cfg, err := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLDSN))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = dbName
	return open(t, cfg.FormatDSN())
}

func mysqlCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// The service's user may do what the service does and nothing else:
// no DELETE, no DDL, no UPDATE of a payment, no reading the
// ledger; EnsureAppUser revokes what an account held beyond that, and
// running it again changes nothing.
func TestAppUserHasExactlyTheServicesGrants(t *testing.T) {
	app, admin, name := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	ctx := context.Background()
	s := mysqlstore.New(app)
	p := payment("grants")
	if _, err := s.Create(ctx, p, "h"); err != nil {
		t.Fatalf("the service's own write: %v", err)
	}
	if _, err := s.ClaimDue(ctx, time.Now().Add(time.Hour), time.Minute, 10); err != nil {
		t.Fatalf("the outbox sweep: %v", err)
	}
	for _, q := range []string{
		"DELETE FROM payments", "UPDATE payments SET amount = 1", "SELECT COUNT(*) FROM ledger_entries",
		"DROP TABLE payment_outbox", "ALTER TABLE payments ADD COLUMN x INT", "CREATE TABLE x (a INT)",
		"DELETE FROM payment_outbox", "SELECT COUNT(*) FROM schema_migrations", "CREATE DATABASE other_" + name,
	} {
		if _, err := app.ExecContext(ctx, q); mysqlCode(err) != 1142 && mysqlCode(err) != 1044 {
			t.Errorf("%s as the application user: %v, want access denied", q, err)
		}
	}
	// An account holding more is cut back to exactly the grants.
	user := mysqlstore.AppUser{Name: "app_" + name[len(name)-8:], Host: "127.0.0.1", Password: "another-password-0123"}
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER IF EXISTS '" + user.Name + "'@'127.0.0.1'") })
	for _, q := range []string{
		"CREATE USER '" + user.Name + "'@'127.0.0.1' IDENTIFIED BY 'old-password-0123456'",
		"GRANT SELECT, PROCESS ON *.* TO '" + user.Name + "'@'127.0.0.1'",
		"GRANT DELETE, DROP ON `" + name + "`.* TO '" + user.Name + "'@'127.0.0.1'",
		"GRANT DELETE ON `" + name + "`.payments TO '" + user.Name + "'@'127.0.0.1'",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := mysqlstore.EnsureAppUser(ctx, admin, user); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := admin.QueryContext(ctx, "SHOW GRANTS FOR '"+user.Name+"'@'127.0.0.1'")
	if err != nil {
		t.Fatal(err)
	}
	var grants []string
	for rows.Next() {
		var g string
		_ = rows.Scan(&g)
		grants = append(grants, strings.Join(strings.Fields(strings.SplitN(g, " IDENTIFIED", 2)[0]), " "))
	}
	rows.Close()
	want := []string{
		"GRANT USAGE ON *.* TO `" + user.Name + "`@`127.0.0.1`",
		"GRANT INSERT ON `" + name + "`.`ledger_entries` TO `" + user.Name + "`@`127.0.0.1`",
		"GRANT SELECT, INSERT ON `" + name + "`.`payments` TO `" + user.Name + "`@`127.0.0.1`",
		"GRANT SELECT, INSERT, UPDATE ON `" + name + "`.`payment_outbox` TO `" + user.Name + "`@`127.0.0.1`",
		"GRANT SELECT, INSERT, UPDATE ON `" + name + "`.`writer_marks` TO `" + user.Name + "`@`127.0.0.1`",
	}
	if strings.Join(sorted(grants), "\n") != strings.Join(sorted(want), "\n") {
		t.Errorf("grants:\n%s\nwant:\n%s", strings.Join(sorted(grants), "\n"), strings.Join(sorted(want), "\n"))
	}
	cfg, _ := mysql.ParseDSN(backends.Env(t, backends.EnvMySQLDSN))
	cfg.User, cfg.Passwd, cfg.DBName = user.Name, user.Password, name
	if err := open(t, cfg.FormatDSN()).PingContext(ctx); err != nil {
		t.Errorf("the secret's password does not log in: %v", err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// A batch whose deadline passes while the server still runs it (waiting
// on a row lock here) is settled before Create returns: its server thread
// is killed by the application user itself, and the read-back makes the
// answer certain ("not applied"), so nothing commits when the lock goes.
func TestLostAnswerIsSettledBeforeCreateReturns(t *testing.T) {
	app, admin, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	tx, err := admin.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_ref, customer_ref,
	  session_id, status, region, created_at) VALUES ('dddddddddddddddddddddddddddddddd', 'settle', 'h', 1, 'EUR', 'm', 'c', 's', 'processed', 'x', NOW(6))`); err != nil {
		t.Fatal(err)
	}
	// The batch gets 0.3 s (the deadline minus SettleReserve); its lock
	// wait is bounded to 1 s, so the deadline ends it first.
	ctx, cancel := context.WithTimeout(context.Background(), mysqlstore.SettleReserve+300*time.Millisecond)
	defer cancel()
	_, err = mysqlstore.New(app).Create(ctx, payment("settle"), "h")
	if !errors.Is(err, payments.ErrUnavailable) || errors.Is(err, payments.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "not applied") {
		t.Fatalf("lost answer: %v, want a certain not applied", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := paymentstest.Count(t, admin, "SELECT COUNT(*) FROM payments WHERE idempotency_key = 'settle'"); n != 0 {
		t.Errorf("%d payments committed after a certain not applied", n)
	}
}

// A Region's writer mark only moves forward (two instances marking out of
// order keep the newer), each Region has its own, and a read-only
// database refuses a mark as it refuses a payment.
func TestWriterMarksMoveForwardOnlyOnTheWriter(t *testing.T) {
	ctx := context.Background()
	app, _, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	s := mysqlstore.New(app)
	if _, found, err := s.WriterMark(ctx, "us-east-1"); err != nil || found {
		t.Fatalf("mark before any: found %v (%v)", found, err)
	}
	t0 := time.Date(2026, 12, 5, 23, 0, 0, 123456000, time.UTC)
	for _, at := range []time.Time{t0, t0.Add(-time.Second)} {
		if err := s.MarkWriter(ctx, "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkWriter(ctx, "us-west-2", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if at, found, err := s.WriterMark(ctx, "us-east-1"); err != nil || !found || !at.Equal(t0) {
		t.Errorf("us-east-1's mark %s %v %v, want %s (the newer of two)", at, found, err, t0)
	}
	if at, _, _ := s.WriterMark(ctx, "us-west-2"); !at.Equal(t0.Add(-time.Hour)) {
		t.Errorf("us-west-2's mark %s", at)
	}
	standby, _, _ := paymentstest.Database(t, backends.EnvMySQLSecondaryDSN, backends.EnvMySQLSecondaryAdminDSN)
	if err := mysqlstore.New(standby).MarkWriter(ctx, "us-west-2", t0); !errors.Is(err, payments.ErrReadOnly) {
		t.Errorf("mark on a read-only database: %v, want read-only", err)
	}
}

// The database's clock is read in UTC with microseconds, whatever the
// session's time zone: the service compares it with its own.
func TestClockIsTheDatabasesUTCTime(t *testing.T) {
	ctx := context.Background()
	app, _, _ := paymentstest.Database(t, backends.EnvMySQLDSN, backends.EnvMySQLAdminDSN)
	if _, err := app.ExecContext(ctx, "SET time_zone = '+09:00'"); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	at, err := mysqlstore.New(app).Clock(ctx)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	// The server shares this machine's clock.
	if at.Location() != time.UTC || at.Before(before.Add(-time.Second)) || at.After(after.Add(time.Second)) {
		t.Errorf("database clock %s, this machine's between %s and %s", at, before.UTC(), after.UTC())
	}
	if at.Nanosecond()%int(time.Microsecond) != 0 {
		t.Errorf("database clock %s has more than microseconds", at)
	}
}
