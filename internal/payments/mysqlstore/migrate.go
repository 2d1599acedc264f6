package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/payment-dr/payment-dr/migrations"
)

// Migrate applies the shipped migrations not yet recorded, in name order.
func Migrate(ctx context.Context, db *sql.DB) ([]string, error) { return MigrateUpTo(ctx, db, "") }

// MigrateUpTo applies the unrecorded migrations up to and including last
// ("" for all), under a named lock so concurrent starters do not race.
// Each is marked dirty before it runs and clean after (DDL commits as it
// goes, so a failed migration can leave a half-applied schema): a dirty
// migration stops every later run with an error saying what to do.
func MigrateUpTo(ctx context.Context, db *sql.DB, last string) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('payment_dr_migrations', 30)").Scan(&got); err != nil || got.Int64 != 1 {
		return nil, fmt.Errorf("migrations: could not take the migration lock: %v", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK('payment_dr_migrations')") //nolint:errcheck
	if err := migrationTable(ctx, conn); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		if last != "" && name > last {
			break
		}
		done, err := recorded(ctx, conn, name)
		if err != nil {
			return applied, err
		}
		if done {
			continue
		}
		if err := apply(ctx, conn, name); err != nil {
			return applied, err
		}
		applied = append(applied, name)
	}
	return applied, nil
}

// migrationTable creates schema_migrations, adds the dirty column to a
// table made before it existed, and refuses to go on over a dirty version.
func migrationTable(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
  version VARCHAR(128) NOT NULL PRIMARY KEY, applied_at DATETIME(6) NOT NULL,
  dirty TINYINT NOT NULL DEFAULT 0) ENGINE=InnoDB`); err != nil {
		return err
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
	 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations' AND COLUMN_NAME = 'dirty'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := conn.ExecContext(ctx, "ALTER TABLE schema_migrations ADD COLUMN dirty TINYINT NOT NULL DEFAULT 0"); err != nil {
			return err
		}
	}
	var dirty string
	err := conn.QueryRowContext(ctx, "SELECT version FROM schema_migrations WHERE dirty = 1 ORDER BY version LIMIT 1").Scan(&dirty)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("migration %s is dirty: it started and did not finish, so the schema may be half-applied. "+
		"Compare the schema with migrations/%s, finish or undo its statements by hand, then run "+
		"DELETE FROM schema_migrations WHERE version = '%s' (to re-run it) or "+
		"UPDATE schema_migrations SET dirty = 0 WHERE version = '%s' (if it is complete), and migrate again", dirty, dirty, dirty, dirty)
}

func recorded(ctx context.Context, conn *sql.Conn, name string) (bool, error) {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", name).Scan(&n); err != nil {
		return false, fmt.Errorf("migrations: %w", err)
	}
	return n > 0, nil
}

// apply runs one migration between its dirty and clean marks.
func apply(ctx context.Context, conn *sql.Conn, name string) error {
	body, err := fs.ReadFile(migrations.FS, name)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at, dirty) VALUES (?, ?, 1)", name, time.Now().UTC()); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	for _, stmt := range splitStatements(string(body)) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migration %s failed and is marked dirty: %w", name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "UPDATE schema_migrations SET dirty = 0, applied_at = ? WHERE version = ?", time.Now().UTC(), name); err != nil {
		return fmt.Errorf("migration %s ran but could not be marked clean: %w", name, err)
	}
	return nil
}

// splitStatements splits a migration on semicolons that end a line,
// dropping comment-only lines. Migrations hold plain DDL, no routines.
func splitStatements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
