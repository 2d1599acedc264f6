package daemon

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/payment-dr/payment-dr/internal/lab/link"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/lab/repl"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// startDatabase installs and starts one Region's MariaDB server.
func (d *Daemon) startDatabase(ctx context.Context, r *region, serverID int) error {
	r.server = mariadb.NewServer(r.name, d.dir.Path(r.name), d.ports.db[r.name], serverID, d.bins)
	if err := r.server.Install(ctx); err != nil {
		return err
	}
	return r.server.Start(ctx, string(d.dir))
}

// setupDatabases creates users and schema on the primary, makes it the
// writer and attaches the secondary as its replica across the link.
func (d *Daemon) setupDatabases(ctx context.Context) error {
	primary := d.cfg.PrimaryRegion
	for _, r := range []string{d.cfg.SecondaryRegion, primary} {
		if err := d.withRoot(r, func(root *sql.DB) error {
			return mariadb.CreateUsers(ctx, root, d.state.Passwords, d.naming().DatabaseName())
		}); err != nil {
			return err
		}
	}
	if err := d.withRoot(primary, func(root *sql.DB) error {
		return mariadb.CreateDatabases(ctx, root, d.naming().DatabaseName())
	}); err != nil {
		return err
	}
	if err := d.openConnections(); err != nil {
		return err
	}
	if err := d.migrate(ctx); err != nil {
		return err
	}
	if err := repl.Unfence(ctx, d.node(primary)); err != nil {
		return err
	}
	if err := d.startLink(); err != nil {
		return err
	}
	return d.startReplication(ctx)
}

func (d *Daemon) withRoot(region string, f func(*sql.DB) error) error {
	root, err := d.parts[region].server.Root()
	if err != nil {
		return err
	}
	defer root.Close()
	return f(root)
}

// openConnections opens each Region's admin and heartbeat pools.
func (d *Daemon) openConnections() error {
	var err error
	pw := d.state.Passwords
	for _, r := range d.parts {
		if r.admin, err = openDB(r.server.DSN(mariadb.AdminUser, pw[mariadb.AdminUser], "")); err != nil {
			return err
		}
		if r.hb, err = openDB(r.server.DSN(mariadb.HeartbeatUser, pw[mariadb.HeartbeatUser], mariadb.HeartbeatDB)); err != nil {
			return err
		}
	}
	return nil
}

// migrate runs the service's own migrations on the primary as the admin
// user, which bypasses read_only: the schema goes in while the primary is
// still read-only and nothing else can write yet.
func (d *Daemon) migrate(ctx context.Context) error {
	pay, err := mysqlstore.Open(d.adminDSN(d.cfg.PrimaryRegion))
	if err != nil {
		return err
	}
	defer pay.Close()
	if _, err := mysqlstore.Migrate(ctx, pay); err != nil {
		return fmt.Errorf("payment schema: %w", err)
	}
	return nil
}

// adminDSN is the admin user's DSN for region's payment database.
func (d *Daemon) adminDSN(region string) string {
	return d.parts[region].server.DSN(mariadb.AdminUser, d.state.Passwords[mariadb.AdminUser], d.naming().DatabaseName())
}

// startLink puts the inter-Region link (Toxiproxy) in front of each
// Region's database: the other Region's replica connects through it.
func (d *Daemon) startLink() error {
	logf, err := os.OpenFile(d.dir.Path("logs", "toxiproxy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	d.link = link.New(logf)
	for _, r := range d.regions() {
		l := d.ports.link[r]
		addr := l.Addr().String()
		l.Close() // handed over to Toxiproxy, which listens itself
		if _, err := d.link.Add(r, addr, d.endpoint(r), d.opt.LinkLatency); err != nil {
			return err
		}
	}
	return nil
}

// startReplication attaches the secondary to the primary and waits until
// it applied everything so far (the schema and a first heartbeat).
func (d *Daemon) startReplication(ctx context.Context) error {
	primary, secondary := d.node(d.cfg.PrimaryRegion), d.node(d.cfg.SecondaryRegion)
	if err := repl.Attach(ctx, secondary, primary, d.replAccount(), false); err != nil {
		return err
	}
	d.beat(ctx)
	pos, err := repl.BinlogPos(ctx, primary)
	if err != nil {
		return err
	}
	if err := repl.WaitApplied(ctx, secondary, pos, 30*time.Second); err != nil {
		st, _ := repl.ReplicaStatus(ctx, secondary)
		return fmt.Errorf("the secondary did not catch up with the primary: %w (%s)", err, st.LastError)
	}
	return d.dir.WriteJSON("topology.json", d.topo)
}

// endpoint is region's database endpoint as the parameters name it.
func (d *Daemon) endpoint(region string) string {
	return d.parts[region].server.Addr()
}

func openDB(dsn string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxLifetime(30 * time.Second)
	return db, nil
}
