package repl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Tools are the client programs and the admin login a rebuild uses.
type Tools struct {
	Client, Dump   string // mariadb, mariadb-dump
	User, Password string
	WorkDir        string // where dumps and option files go
}

// Endpoint is a server the tools connect to.
type Endpoint struct {
	Region string
	Port   int
}

// optionFile keeps the password off the command line (ps shows it).
func (t Tools) optionFile(e Endpoint) (string, error) {
	p := filepath.Join(t.WorkDir, "client-"+e.Region+".cnf")
	body := fmt.Sprintf("[client]\nhost=127.0.0.1\nport=%d\nuser=%s\npassword=%s\n", e.Port, t.User, t.Password)
	return p, os.WriteFile(p, []byte(body), 0o600)
}

// DumpTo writes a consistent dump of dbs on e to path, with the GTID
// position it corresponds to as a comment (--master-data=2 --gtid).
func (t Tools) DumpTo(ctx context.Context, e Endpoint, path string, dbs ...string) error {
	return t.dump(ctx, e, path, append([]string{"--master-data=2", "--gtid", "--add-drop-database", "--databases"}, dbs...))
}

// DumpTables writes db's tables and rows only (no CREATE DATABASE, no
// USE), to be loaded under another database name.
func (t Tools) DumpTables(ctx context.Context, e Endpoint, path, db string) error {
	return t.dump(ctx, e, path, []string{db})
}

func (t Tools) dump(ctx context.Context, e Endpoint, path string, what []string) error {
	opt, err := t.optionFile(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	args := append([]string{"--defaults-extra-file=" + opt, "--single-transaction", "--skip-lock-tables"}, what...)
	cmd := exec.CommandContext(ctx, t.Dump, args...)
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mariadb-dump of %s: %v: %s", e.Region, err, strings.TrimSpace(stderr.String()))
	}
	return f.Sync()
}

var gtidLine = regexp.MustCompile(`gtid_slave_pos\s*=\s*'([0-9,\-]*)'`)

// DumpGTID reads the GTID position recorded in a dump.
func DumpGTID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() { // mariadb-dump writes the position at the end (deferred)
		if m := gtidLine.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no gtid_slave_pos in the dump", path)
}

// Load replays a dump into e without writing it to e's binlog: the rows
// arrive with the GTID position set afterwards, not as new transactions.
func (t Tools) Load(ctx context.Context, e Endpoint, path string, db ...string) error {
	opt, err := t.optionFile(e)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, t.Client, append([]string{"--defaults-extra-file=" + opt, "--binary-mode"}, db...)...)
	cmd.Stdin = io.MultiReader(strings.NewReader("SET SESSION sql_log_bin=0;\n"), f)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("loading the dump into %s: %v: %s", e.Region, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Keep copies n's database db, as it is, into a new database kept on the
// same server, outside the binlog (so it never replicates and never
// becomes an errant transaction), through a dump kept in dumpPath.
func Keep(ctx context.Context, n Node, ne Endpoint, t Tools, db, kept, dumpPath string) error {
	if err := t.DumpTables(ctx, ne, dumpPath, db); err != nil {
		return err
	}
	conn, err := n.Admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION sql_log_bin=0", "CREATE DATABASE `" + kept + "`"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("keeping %s's data: %w", n.Region, err)
		}
	}
	return t.Load(ctx, ne, dumpPath, kept)
}

// Rebuild turns n (a diverged old primary, read-only) into a replica of
// src: its data is replaced by a dump of src taken at a known GTID
// position, and replication starts from there. Keep its own data first.
func Rebuild(ctx context.Context, n, src Node, ne, se Endpoint, t Tools, r Repl, dbs []string, step func(string)) error {
	step("dump " + src.Region)
	dump := filepath.Join(t.WorkDir, "rebuild-"+n.Region+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".sql")
	defer os.Remove(dump)
	if err := t.DumpTo(ctx, se, dump, dbs...); err != nil {
		return err
	}
	pos, err := DumpGTID(dump)
	if err != nil {
		return err
	}
	step("reload " + n.Region + " from " + src.Region + " at " + pos)
	for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=1", "RESET MASTER"} {
		if _, err := n.Admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuilding %s (%s): %w", n.Region, q, err)
		}
	}
	if err := t.Load(ctx, ne, dump); err != nil {
		return err
	}
	if _, err := n.Admin.ExecContext(ctx, "SET GLOBAL gtid_slave_pos = ?", pos); err != nil {
		return fmt.Errorf("rebuilding %s: gtid_slave_pos: %w", n.Region, err)
	}
	step("attach " + n.Region + " to " + src.Region)
	return Attach(ctx, n, src, r, false)
}
