package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
)

// AppUser is the database user the payment service connects as.
type AppUser struct {
	Name     string
	Host     string // "%" on Aurora; the client's address on a local server
	Password string
}

// AppGrants is everything the service does on its schema, and so all the
// application user may do: insert a payment and read it back (replays,
// GET), insert its ledger entries (never read by the service), and keep
// the outbox (claim, mark sent, reschedule), and its writer mark. No DELETE, no DDL, no global
// privilege: without SUPER / READ ONLY ADMIN, read_only applies to it.
// KILL and PROCESSLIST on its own connections (settling a lost answer)
// need no privilege.
var AppGrants = map[string][]string{
	"payments":       {"SELECT", "INSERT"},
	"ledger_entries": {"INSERT"},
	"payment_outbox": {"SELECT", "INSERT", "UPDATE"},
	"writer_marks":   {"SELECT", "INSERT", "UPDATE"},
}

var safeIdent = regexp.MustCompile(`^[A-Za-z0-9_.%-]{1,80}$`)

// EnsureAppUser creates the application user or updates its password, and
// leaves it exactly AppGrants on the current database's tables: it grants
// first and then revokes whatever else it holds globally, on any schema,
// or on this schema's tables (table grants on other schemas are not this
// schema's business and are left alone), so the service never runs
// without its privileges. Idempotent; accepted by MariaDB 10.11 and
// Aurora MySQL 3. db must connect as the master (or a migration) user,
// opened by Open (the password is interpolated as an escaped literal).
func EnsureAppUser(ctx context.Context, db *sql.DB, u AppUser) error {
	if !safeIdent.MatchString(u.Name) || !safeIdent.MatchString(u.Host) {
		return fmt.Errorf("application user %q@%q: name and host must be 1-80 of A-Z a-z 0-9 _ . %% -", u.Name, u.Host)
	}
	if len(u.Password) < 16 {
		return fmt.Errorf("application user %s: the password must have at least 16 characters", u.Name)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var schema sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&schema); err != nil || !schema.Valid || !safeIdent.MatchString(schema.String) {
		return fmt.Errorf("application user: the connection must name a plain database (got %q, %v)", schema.String, err)
	}
	account := fmt.Sprintf("'%s'@'%s'", u.Name, u.Host)
	stmts := []struct {
		q    string
		args []any
	}{
		{"CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY ?", []any{u.Password}},
		{"ALTER USER " + account + " IDENTIFIED BY ?", []any{u.Password}},
	}
	for table, privs := range AppGrants {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{fmt.Sprintf("GRANT %s ON `%s`.`%s` TO %s", strings.Join(privs, ", "), schema.String, table, account), nil})
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s.q, s.args...); mysqlCode(err) == 1064 || mysqlCode(err) == 1295 {
			// The password travels as an escaped literal: the statement
			// cannot be prepared, so the driver must interpolate.
			return fmt.Errorf("application user: open the pool with mysqlstore.Open (interpolateParams): %w", err)
		} else if err != nil {
			return fmt.Errorf("application user %s: %s: %w", account, strings.SplitN(s.q, " IDENTIFIED", 2)[0], err)
		}
	}
	return revokeExtras(ctx, conn, account, schema.String)
}

// revokeExtras revokes every privilege of account beyond AppGrants, as
// information_schema lists them.
func revokeExtras(ctx context.Context, conn *sql.Conn, account, schema string) error {
	rows, err := conn.QueryContext(ctx, `
SELECT PRIVILEGE_TYPE, '*', '*' FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?
UNION ALL SELECT PRIVILEGE_TYPE, TABLE_SCHEMA, '*' FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?
UNION ALL SELECT PRIVILEGE_TYPE, TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ?`,
		account, account, account, schema)
	if err != nil {
		return fmt.Errorf("application user %s: reading its privileges: %w", account, err)
	}
	var revokes []string
	for rows.Next() {
		var priv, db, table string
		if err := rows.Scan(&priv, &db, &table); err != nil {
			rows.Close()
			return err
		}
		if priv == "USAGE" || (db == schema && wanted(table, priv)) {
			continue
		}
		on := "*.*"
		switch {
		case table != "*":
			on = fmt.Sprintf("`%s`.`%s`", db, table)
		case db != "*":
			on = fmt.Sprintf("`%s`.*", strings.ReplaceAll(db, "`", "``"))
		}
		revokes = append(revokes, fmt.Sprintf("REVOKE %s ON %s FROM %s", priv, on, account))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, q := range revokes {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("application user: %s: %w", q, err)
		}
	}
	return nil
}

func wanted(table, priv string) bool {
	for _, p := range AppGrants[table] {
		if p == priv {
			return true
		}
	}
	return false
}
