package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/lab/labdir"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/naming"
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
	d := &Daemon{opt: opt, dir: labdir.Dir(opt.Dir), parts: map[string]*region{}}
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

// start brings the lab up in order: ports, the backends (both Regions'
// databases and dynalite), replication across the link, then the
// stand-ins, the services and the front door.
func (d *Daemon) start(ctx context.Context) error {
	var err error
	if d.cfg, err = config.Load(d.opt.ConfigPath); err != nil {
		return err
	}
	if d.bins, err = backends.FindBinaries(); err != nil {
		return err
	}
	if d.ports, err = allocatePorts(d.regions()); err != nil {
		return err
	}
	if err := d.writeState(); err != nil {
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
	if err := d.writeDescriptions(); err != nil {
		return err
	}
	// The Region switch acts on the lab through drctl's lab cloud, which
	// reads the descriptions.
	return d.startRegionSwitch(ctx)
}

// writeState records the lab's ports, passwords and options in
// DIR/state.json, and the first topology: the primary holds the writer.
func (d *Daemon) writeState() error {
	primary, secondary := d.cfg.PrimaryRegion, d.cfg.SecondaryRegion
	p := d.ports
	d.state = labdir.State{Config: d.opt.ConfigPath, Primary: primary, Secondary: secondary,
		FailoverName: d.naming().APIHost(), DBPorts: p.db, APIPorts: map[string]int{}, LinkPorts: map[string]int{},
		Passwords: map[string]string{}, Control: p.control.Addr().String(), DNS: p.dnsUDP.LocalAddr().String(),
		// Clients reach dynalite through backends.WholeRequests (see there why).
		DynamoEndpoint: "http://" + p.dynamo.Addr().String(),
		Options: labdir.Options{LinkLatencyMs: d.opt.LinkLatency.Milliseconds(), WitnessLatencyMs: d.opt.WitnessLatency.Milliseconds(), SecondaryWitnessLatencyMs: msOrNil(d.opt.SecondaryWitnessLatency), CheckIntervalMs: d.opt.CheckInterval.Milliseconds(),
			FailureThreshold: d.opt.FailureThreshold, TTLMs: d.opt.TTL.Milliseconds(), PaymentsBin: d.opt.PaymentsBin, Dynalite: d.opt.Dynalite}}
	for _, u := range []string{mariadb.AdminUser, mariadb.AppUser, mariadb.ReplUser, mariadb.HeartbeatUser, apiKeyEntry} {
		d.state.Passwords[u] = randomHex(16)
	}
	d.state.JournalEndpoints, d.state.JournalWitness = map[string]string{}, d.journalWitness()
	for _, r := range d.regions() {
		d.state.LinkPorts[r] = port(p.link[r])
		d.state.JournalEndpoints[r] = d.journalEndpoint(r)
		d.state.APIPorts[r] = port(p.gateway[r]) // clients reach the service through its gateway
	}
	d.topo = Topology{Writer: primary, Diverged: map[string]bool{}, Stalled: map[string]bool{}, Down: map[string]bool{}, Kept: map[string]string{},
		Fenced: map[string]bool{}, Writable: map[string]bool{}, Partitioned: map[string]bool{}, JournalCuts: map[string]bool{}, Frozen: map[string]bool{}}
	return d.dir.WriteJSON("state.json", d.state)
}

// apiKeyEntry names the service's API key among the lab's generated credentials.
const apiKeyEntry = "apiKey"

func (d *Daemon) naming() naming.Names { return naming.New(d.cfg.Environment, d.cfg.DomainName) }

// startBackends starts dynalite, the journal and both Regions' databases
// concurrently.
func (d *Daemon) startBackends(ctx context.Context) error {
	regions := d.regions()
	errs := make([]error, len(regions)+2)
	var wg sync.WaitGroup
	wg.Add(len(regions) + 2)
	go func() {
		defer wg.Done()
		errs[0] = d.startDynalite()
	}()
	go func() {
		defer wg.Done()
		errs[len(regions)+1] = d.startJournal(ctx)
	}()
	for _, r := range regions {
		d.parts[r] = &region{name: r}
	}
	for i, r := range regions {
		part := d.parts[r]
		go func() {
			defer wg.Done()
			errs[i+1] = d.startDatabase(ctx, part, i+1)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func msOrNil(d *time.Duration) *int64 {
	if d == nil {
		return nil
	}
	ms := d.Milliseconds()
	return &ms
}
