package backends

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
)

// The accounts every local server has, as on Aurora: the admin (the
// master user) and the payment service's application user.
const (
	AdminUser = "payments_admin" // ALL PRIVILEGES (includes READ ONLY ADMIN): writes even where read_only is on
	AppUser   = "payments_app"   // the payment service: no READ ONLY ADMIN, so read_only fences it
)

// The passwords of the servers a process starts for tests: drawn at
// random once per process (tests reach servers started by another
// process, cmd/testbackends, through the DSNs it exports), so no password
// is written in the code. The lab draws its own.
var (
	TestAdminPassword = randomPassword()
	TestAppPassword   = randomPassword()
)

func randomPassword() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("backends: no randomness for a test password: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// User is an account to create and what to grant it: each grant is the
// part of a GRANT statement before " TO" (e.g. "REPLICATION SLAVE ON *.*").
type User struct {
	Name, Password string
	Grants         []string
	GrantOption    bool // WITH GRANT OPTION on every grant
}

// TestUsers are a test server's accounts. The application user starts
// with no privilege at all: migrating a database (mysqlstore.Migrate, then
// mysqlstore.EnsureAppUser, as the migration function does on Aurora)
// grants it exactly what the service needs there.
func TestUsers() []User {
	return []User{
		{Name: AdminUser, Password: TestAdminPassword, Grants: []string{"ALL PRIVILEGES ON *.*"}, GrantOption: true},
		{Name: AppUser, Password: TestAppPassword},
	}
}

// CreateUsers creates users@Host on the server of root, outside the
// binlog: every server of a replicated pair gets the same users this
// way, and replication never replays a CREATE USER onto a server that
// already has the user.
func CreateUsers(ctx context.Context, root *sql.DB, users []User) error {
	conn, err := root.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stmts := []string{"SET SESSION sql_log_bin=0"}
	for _, u := range users {
		stmts = append(stmts, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", u.Name, Host, u.Password))
		for _, g := range u.Grants {
			q := fmt.Sprintf("GRANT %s TO '%s'@'%s'", g, u.Name, Host)
			if u.GrantOption {
				q += " WITH GRANT OPTION"
			}
			stmts = append(stmts, q)
		}
	}
	// The connection goes back to root's pool: binlogging is restored, or
	// the next statement on it (a CREATE DATABASE) would skip the binlog
	// and never reach the replica.
	for _, q := range append(stmts, "SET SESSION sql_log_bin=1") {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the database users: %w", err)
		}
	}
	return nil
}
