package repl

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/proc"
)

// pair is two real MariaDB servers as the lab runs them (GTID, binlog,
// read-only at start), a writer and its replica, connected directly
// rather than across the link.
type pair struct {
	writer, replica Node
	app             *sql.DB // the application user on the writer: read_only applies to it
	repl            Repl
}

const testDB = "repltest"

func startPair(t *testing.T) *pair {
	t.Helper()
	bins, err := backends.FindBinaries()
	if err != nil {
		backends.Missing(t, err.Error())
	}
	// A short directory: the unix socket path must stay under ~100 bytes.
	dir, err := os.MkdirTemp("", "repl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = proc.StopAll(dir, 10*time.Second)
		os.RemoveAll(dir)
	})
	ctx := context.Background()
	pw := map[string]string{mariadb.AdminUser: "admin-pw", mariadb.AppUser: "app-pw", mariadb.ReplUser: "repl-pw", mariadb.HeartbeatUser: "hb-pw"}
	servers := make([]*backends.MariaDB, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	regions := []string{"east", "west"}
	for i, region := range regions {
		port, err := proc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s := mariadb.NewServer(region, filepath.Join(dir, region), port, i+1, bins)
		servers[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = s.Install(ctx); errs[i] == nil {
				errs[i] = s.Start(ctx, dir)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	p := &pair{repl: Repl{User: mariadb.ReplUser, Password: pw[mariadb.ReplUser]}}
	for i, s := range servers {
		root, err := s.Root()
		if err != nil {
			t.Fatal(err)
		}
		if err := mariadb.CreateUsers(ctx, root, pw, testDB); err != nil {
			t.Fatal(err)
		}
		if i == 0 { // in the binlog: replication carries it to the replica
			run(t, root, "CREATE DATABASE "+testDB, "CREATE TABLE "+testDB+".t (id INT PRIMARY KEY, region VARCHAR(16) NOT NULL)")
		}
		root.Close()
		n := Node{Region: regions[i], Admin: open(t, s.DSN(mariadb.AdminUser, pw[mariadb.AdminUser], "")), LinkHost: mariadb.Host, LinkPort: s.Port}
		if i == 0 {
			p.writer = n
			p.app = open(t, s.DSN(mariadb.AppUser, pw[mariadb.AppUser], testDB))
		} else {
			p.replica = n
		}
	}
	if err := Unfence(ctx, p.writer); err != nil {
		t.Fatal(err)
	}
	if err := Attach(ctx, p.replica, p.writer, p.repl, false); err != nil {
		t.Fatal(err)
	}
	p.caughtUp(t)
	return p
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func run(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// caughtUp waits until the replica applied everything the writer wrote.
func (p *pair) caughtUp(t *testing.T) {
	t.Helper()
	pos, err := BinlogPos(context.Background(), p.writer)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitApplied(context.Background(), p.replica, pos, 30*time.Second); err != nil {
		st, _ := ReplicaStatus(context.Background(), p.replica)
		t.Fatalf("%v (replica status %+v)", err, st)
	}
}

func rows(t *testing.T, n Node) int {
	t.Helper()
	var c int
	if err := n.Admin.QueryRow("SELECT COUNT(*) FROM " + testDB + ".t").Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// isReadOnlyRefusal: error 1290, the server runs with --read-only.
func isReadOnlyRefusal(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1290
}
