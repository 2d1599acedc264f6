package daemon

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/miekg/dns"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/lab/awsstub"
	"github.com/payment-dr/payment-dr/internal/lab/frontdoor"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/link"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/lab/proc"
	"github.com/payment-dr/payment-dr/internal/lab/repl"
	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// ReadyFile is written once every part is healthy; ErrorFile holds why a
// start failed. `drlab up` waits for one of them.
const (
	ReadyFile = "ready"
	ErrorFile = "serve-error"
)

// Serve starts the lab and serves until SIGTERM, SIGINT or a shutdown
// request; then it stops every process it started. A start that fails
// stops what it started and records the reason in DIR/serve-error.
func Serve(opt Options) error {
	d := &Daemon{opt: opt, dir: labdir.Dir(opt.Dir), servers: map[string]*mariadb.Server{}, admin: map[string]*sql.DB{},
		hb: map[string]*sql.DB{}, services: map[string]*proc.Proc{}, buses: map[string]*awsstub.Bus{},
		listen: map[string]net.Listener{}, stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := d.start(ctx); err != nil {
		_ = os.WriteFile(d.dir.Path(ErrorFile), []byte(err.Error()+"\n"), 0o600)
		d.shutdown()
		return err
	}
	if err := os.WriteFile(d.dir.Path(ReadyFile), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		d.shutdown()
		return err
	}
	log.Printf("lab ready")
	<-ctx.Done()
	log.Printf("stopping the lab")
	d.shutdown()
	return nil
}

func (d *Daemon) start(ctx context.Context) error {
	var err error
	if d.cfg, err = config.Load(d.opt.ConfigPath); err != nil {
		return err
	}
	if d.bins, err = mariadb.FindBinaries(); err != nil {
		return err
	}
	if err := d.allocate(); err != nil {
		return err
	}
	t0 := time.Now()
	if err := d.startBackends(ctx); err != nil {
		return err
	}
	log.Printf("databases and dynalite started in %s", time.Since(t0).Round(time.Millisecond))
	if err := d.setupDatabases(ctx); err != nil {
		return err
	}
	log.Printf("replication set up at %s", time.Since(t0).Round(time.Millisecond))
	if err := d.startServices(ctx); err != nil {
		return err
	}
	log.Printf("services healthy at %s", time.Since(t0).Round(time.Millisecond))
	return d.writeDescriptions()
}

// allocate binds the in-process servers' listeners (no race) and asks the
// kernel for free ports for the child processes.
func (d *Daemon) allocate() error {
	primary, secondary := d.cfg.PrimaryRegion, d.cfg.SecondaryRegion
	n := naming.New(d.cfg.Environment, d.cfg.DomainName)
	d.state = labdir.State{Config: d.opt.ConfigPath, Primary: primary, Secondary: secondary,
		FailoverName: n.APIHost(), DBPorts: map[string]int{}, LinkPorts: map[string]int{}, APIPorts: map[string]int{},
		Passwords: map[string]string{},
		Options: labdir.Options{LinkLatencyMs: d.opt.LinkLatency.Milliseconds(), CheckIntervalMs: d.opt.CheckInterval.Milliseconds(),
			FailureThreshold: d.opt.FailureThreshold, TTLMs: d.opt.TTL.Milliseconds(), PaymentsBin: d.opt.PaymentsBin, Dynalite: d.opt.Dynalite}}
	for _, u := range []string{mariadb.AdminUser, mariadb.AppUser, mariadb.ReplUser, mariadb.HeartbeatUser, "apiKey"} {
		d.state.Passwords[u] = randomHex(16)
	}
	names := []string{"control", "frontdoor", "secrets", "bus-" + primary, "bus-" + secondary,
		"link-" + primary, "link-" + secondary, "dynamo"}
	for _, name := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("no free loopback port for %s: %w", name, err)
		}
		d.listen[name] = l
	}
	for _, r := range d.regions() {
		d.state.LinkPorts[r] = d.listen["link-"+r].Addr().(*net.TCPAddr).Port
	}
	d.state.Control = d.listen["control"].Addr().String()
	udp, tcp, err := dnsListeners()
	if err != nil {
		return err
	}
	d.state.DNS = udp.LocalAddr().String()
	zoneName := dns.Fqdn(n.APIHost())
	handler := &dnsHandler{d: d, name: zoneName}
	d.dnsSrv = []*dns.Server{{PacketConn: udp, Handler: handler}, {Listener: tcp, Handler: handler}}
	ports := make([]int, 5)
	for i := range ports {
		if ports[i], err = proc.FreePort(); err != nil {
			return err
		}
	}
	d.state.DBPorts[primary], d.state.DBPorts[secondary] = ports[0], ports[1]
	d.state.APIPorts[primary], d.state.APIPorts[secondary] = ports[2], ports[3]
	// Clients reach dynalite through awsstub.WholeRequests (see there why).
	d.dynaliteURL = "http://127.0.0.1:" + strconv.Itoa(ports[4])
	d.state.DynamoEndpoint = "http://" + d.listen["dynamo"].Addr().String()
	d.topo = Topology{Writer: primary, Diverged: map[string]bool{}, Stalled: map[string]bool{}, Down: map[string]bool{}, Kept: map[string]string{}}
	return d.dir.WriteJSON("state.json", d.state)
}

// startBackends starts dynalite and both MariaDB servers concurrently.
func (d *Daemon) startBackends(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs[0] = d.startDynalite()
	}()
	for i, r := range d.regions() {
		s := &mariadb.Server{Region: r, Dir: d.dir.Path(r), Port: d.state.DBPorts[r], ServerID: i + 1, Bin: d.bins}
		d.servers[r] = s
		go func() {
			defer wg.Done()
			if err := s.Install(ctx); err != nil {
				errs[i+1] = err
				return
			}
			errs[i+1] = s.Start(ctx, string(d.dir))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Daemon) startDynalite() error {
	u, _ := url.Parse(d.dynaliteURL)
	p, err := proc.Start(string(d.dir), "dynalite", d.opt.Dynalite, []string{"--host", "127.0.0.1", "--port", u.Port()}, os.Environ())
	if err != nil {
		return err
	}
	d.dynalite = p
	if err := proc.WaitTCP(p, u.Host, 20*time.Second); err != nil {
		return err
	}
	front, err := awsstub.WholeRequests(d.dynaliteURL)
	if err != nil {
		return err
	}
	d.serveHTTP("dynamo", front)
	return nil
}

// setupDatabases creates users and schema on the primary, makes it the
// writer and attaches the secondary as its replica across the link.
func (d *Daemon) setupDatabases(ctx context.Context) error {
	primary, secondary := d.cfg.PrimaryRegion, d.cfg.SecondaryRegion
	dbName := naming.New(d.cfg.Environment, d.cfg.DomainName).DatabaseName()
	for _, r := range []string{secondary, primary} {
		root, err := d.servers[r].Root()
		if err != nil {
			return err
		}
		defer root.Close()
		if err := mariadb.CreateUsers(ctx, root, d.state.Passwords, dbName); err != nil {
			return err
		}
	}
	root, err := d.servers[primary].Root()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := mariadb.CreateDatabases(ctx, root, dbName); err != nil {
		return err
	}
	for _, r := range d.regions() {
		if d.admin[r], err = openDB(mariadb.DSN(d.state.DBPorts[r], mariadb.AdminUser, d.state.Passwords[mariadb.AdminUser], "")); err != nil {
			return err
		}
		if d.hb[r], err = openDB(mariadb.DSN(d.state.DBPorts[r], mariadb.HeartbeatUser, d.state.Passwords[mariadb.HeartbeatUser], mariadb.HeartbeatDB)); err != nil {
			return err
		}
	}
	pay, err := mysqlstore.Open(mariadb.DSN(d.state.DBPorts[primary], mariadb.AdminUser, d.state.Passwords[mariadb.AdminUser], dbName))
	if err != nil {
		return err
	}
	defer pay.Close()
	// The service's own migrations, as the admin user, which bypasses
	// read_only: the schema goes in while the primary is still read-only
	// and nothing else can write yet.
	if _, err := mysqlstore.Migrate(ctx, pay); err != nil {
		return fmt.Errorf("payment schema: %w", err)
	}
	if _, err := root.ExecContext(ctx, "SET GLOBAL read_only=0"); err != nil {
		return err
	}
	logf, err := os.OpenFile(d.dir.Path("logs", "toxiproxy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	d.link = link.New(logf)
	for _, r := range d.regions() {
		l := d.listen["link-"+r]
		addr := l.Addr().String()
		l.Close() // handed over to Toxiproxy, which listens itself
		if _, err := d.link.Add(r, addr, fmt.Sprintf("%s:%d", mariadb.Host, d.state.DBPorts[r]), d.opt.LinkLatency); err != nil {
			return err
		}
	}
	if err := repl.Attach(ctx, d.node(secondary), d.node(primary), d.replAccount(), false); err != nil {
		return err
	}
	d.beat(ctx)
	pos, err := repl.BinlogPos(ctx, d.node(primary))
	if err != nil {
		return err
	}
	if err := repl.WaitApplied(ctx, d.node(secondary), pos, 30*time.Second); err != nil {
		st, _ := repl.ReplicaStatus(ctx, d.node(secondary))
		return fmt.Errorf("the secondary did not catch up with the primary: %w (%s)", err, st.LastError)
	}
	return d.dir.WriteJSON("topology.json", d.topo)
}

// startServices starts the session table, the AWS stand-ins, both payment
// services and the front door, and waits until the primary is healthy.
func (d *Daemon) startServices(ctx context.Context) error {
	n := naming.New(d.cfg.Environment, d.cfg.DomainName)
	if err := d.createTable(ctx, n.SessionTable()); err != nil {
		return err
	}
	primary, secondary := d.cfg.PrimaryRegion, d.cfg.SecondaryRegion
	bp := &awsstub.Bus{Region: primary, Log: d.dir.Path("events", primary+".jsonl")}
	bs := &awsstub.Bus{Region: secondary, Log: d.dir.Path("events", secondary+".jsonl"), Other: bp}
	bp.Other = bs
	d.buses[primary], d.buses[secondary] = bp, bs
	if err := os.MkdirAll(d.dir.Path("events"), 0o700); err != nil {
		return err
	}
	d.serveHTTP("secrets", &awsstub.Secrets{Values: map[string]string{n.APIKeySecretName(): d.state.Passwords["apiKey"]}})
	d.serveHTTP("bus-"+primary, bp)
	d.serveHTTP("bus-"+secondary, bs)
	for _, r := range d.regions() {
		if err := d.startService(r); err != nil {
			return err
		}
	}
	target := func(r string) frontdoor.Target {
		u, _ := url.Parse(d.apiURL(r))
		return frontdoor.Target{Region: r, URL: u}
	}
	d.door = frontdoor.New(target(primary), target(secondary), frontdoor.Options{Interval: d.opt.CheckInterval, Threshold: d.opt.FailureThreshold, TTL: d.opt.TTL})
	d.serveHTTP("frontdoor", d.door)
	d.serveHTTP("control", d.api())
	for _, s := range d.dnsSrv {
		go func() { _ = s.ActivateAndServe() }()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.door.CheckNow(ctx)
		if ok, _ := d.door.Healthy(primary); ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the primary's payment service did not report healthy within 20s; see %s", d.dir.Path("logs", "payments-"+primary+".log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	go d.door.Run(ctx)
	go d.heartbeat(ctx)
	return nil
}

func (d *Daemon) apiURL(region string) string {
	return "http://127.0.0.1:" + strconv.Itoa(d.state.APIPorts[region])
}

func (d *Daemon) serveHTTP(name string, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.httpSrv = append(d.httpSrv, srv)
	l := d.listen[name]
	go func() { _ = srv.Serve(l) }()
}

// startService starts region's payment service on its own database.
func (d *Daemon) startService(region string) error {
	n := naming.New(d.cfg.Environment, d.cfg.DomainName)
	addr := fmt.Sprintf("127.0.0.1:%d", d.state.APIPorts[region])
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + string(d.dir), "AWS_REGION=" + region, "ENVIRONMENT=" + d.cfg.Environment,
		"AWS_ACCESS_KEY_ID=lab", "AWS_SECRET_ACCESS_KEY=lab", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://" + d.listen["secrets"].Addr().String(),
		"AWS_ENDPOINT_URL_EVENTBRIDGE=http://" + d.listen["bus-"+region].Addr().String(),
		"AWS_ENDPOINT_URL_DYNAMODB=" + d.state.DynamoEndpoint,
		"SESSION_TABLE=" + n.SessionTable(), "EVENT_BUS_NAME=" + n.EventBus(region), "API_KEY_SECRET_ID=" + n.APIKeySecretName(),
		"DB_DSN=" + mariadb.DSN(d.state.DBPorts[region], mariadb.AppUser, d.state.Passwords[mariadb.AppUser], n.DatabaseName()),
		"LISTEN_ADDR=" + addr}
	p, err := proc.Start(string(d.dir), "payments-"+region, d.opt.PaymentsBin, nil, env)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.services[region] = p
	d.mu.Unlock()
	return proc.WaitTCP(p, addr, 20*time.Second)
}

func (d *Daemon) createTable(ctx context.Context, table string) error {
	c := dynamodb.New(dynamodb.Options{Region: d.cfg.PrimaryRegion, BaseEndpoint: aws.String(d.state.DynamoEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider("lab", "lab", "")})
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("sessionId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("sessionId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("session table in dynalite: %w", err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second)
}

// writeDescriptions writes lab.json, state.json and the initial parameters.
func (d *Daemon) writeDescriptions() error {
	n := naming.New(d.cfg.Environment, d.cfg.DomainName)
	lab := labdir.Lab{Environment: d.cfg.Environment, APIKey: d.state.Passwords["apiKey"],
		FailoverURL: "http://" + d.listen["frontdoor"].Addr().String(), Regions: map[string]labdir.Region{}}
	for _, r := range d.regions() {
		role := "secondary"
		if r == d.cfg.PrimaryRegion {
			role = "primary"
		}
		lab.Regions[r] = labdir.Region{APIURL: d.apiURL(r), Role: role,
			MySQLAdminDSN: mariadb.DSN(d.state.DBPorts[r], mariadb.AdminUser, d.state.Passwords[mariadb.AdminUser], n.DatabaseName())}
		for name, v := range map[string]string{n.ActiveRegionParam(): d.cfg.PrimaryRegion, n.WriterEndpointParam(): d.endpoint(d.cfg.PrimaryRegion),
			n.DBEndpointParam(role): d.endpoint(r), n.APIKeySecretParam(): n.APIKeySecretName()} {
			if err := d.dir.PutParameter(r, name, v); err != nil {
				return err
			}
		}
	}
	if err := d.dir.WriteJSON("state.json", d.state); err != nil {
		return err
	}
	return d.dir.WriteJSON("lab.json", lab)
}

// endpoint is region's database endpoint as the parameters name it.
func (d *Daemon) endpoint(region string) string {
	return fmt.Sprintf("%s:%d", mariadb.Host, d.state.DBPorts[region])
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// shutdown stops every in-process server and child process.
func (d *Daemon) shutdown() {
	if d.stop != nil {
		d.stop()
	}
	for _, s := range d.httpSrv {
		_ = s.Close()
	}
	for _, s := range d.dnsSrv {
		_ = s.Shutdown()
	}
	if d.link != nil {
		d.link.Close()
	}
	for _, l := range d.listen {
		l.Close()
	}
	d.mu.Lock()
	svcs := copyMap(d.services)
	d.mu.Unlock()
	for _, p := range svcs {
		p.Stop(syscall.SIGTERM, 3*time.Second)
	}
	var wg sync.WaitGroup
	for _, s := range d.servers {
		if s.Proc != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.Proc.Stop(syscall.SIGTERM, 10*time.Second) }()
		}
	}
	wg.Wait()
	if d.dynalite != nil {
		d.dynalite.Stop(syscall.SIGTERM, 3*time.Second)
	}
	for _, db := range d.admin {
		db.Close()
	}
	for _, db := range d.hb {
		db.Close()
	}
	// Anything a crashed start left behind.
	_, _ = proc.StopAll(string(d.dir), 5*time.Second)
	os.Remove(d.dir.Path(ReadyFile))
}

// dnsListeners binds one loopback port for DNS over both UDP and TCP. The
// kernel picks a free UDP port, which a TCP connection of another program
// may hold as its local port: then another UDP port is tried.
func dnsListeners() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("no free loopback UDP port for DNS: %w", err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("no loopback port free for DNS over both UDP and TCP after 20 tries: %w", lastErr)
}
