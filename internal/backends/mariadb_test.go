package backends

import (
	"database/sql"
	"strings"
	"testing"
)

// A test server has the two accounts of every local server: the admin
// may do anything, also on a read-only server; the application user
// starts with no privilege, and read_only applies to it (whichever the
// server checks first refuses it).
func TestServerAccountsAndFlags(t *testing.T) {
	s := StartMariaDB(t, "--read-only")
	open := func(dsn string) *sql.DB {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	admin, app := open(s.AdminDSN), open(s.AppDSN)
	var ro int
	if err := admin.QueryRow("SELECT @@global.read_only").Scan(&ro); err != nil || ro != 1 {
		t.Fatalf("read_only = %d (%v), want 1 from --read-only", ro, err)
	}
	if _, err := admin.Exec("CREATE DATABASE accounts_test"); err != nil {
		t.Fatalf("the admin cannot create a database on a read-only server: %v", err)
	}
	if _, err := app.Exec("CREATE DATABASE accounts_app"); err == nil || !strings.Contains(err.Error(), "read-only") && !strings.Contains(err.Error(), "denied") {
		t.Fatalf("the application user created a database: %v", err)
	}
	var pool int
	if err := admin.QueryRow("SELECT @@global.innodb_buffer_pool_size").Scan(&pool); err != nil || pool != 64<<20 {
		t.Fatalf("buffer pool %d (%v), want the base flags' 64M", pool, err)
	}
}
