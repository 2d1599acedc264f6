package daemon

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/lab/frontdoor"
	"github.com/payment-dr/payment-dr/internal/lab/gateway"
	"github.com/payment-dr/payment-dr/internal/lab/mariadb"
	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/proc"
)

// startServices starts the session table, the AWS stand-ins, both payment
// services and the front door, and waits until the primary is healthy.
func (d *Daemon) startServices(ctx context.Context) error {
	if err := backends.CreateSessionTable(ctx, backends.DynamoDB(d.state.DynamoEndpoint, d.cfg.PrimaryRegion), d.naming().SessionTable()); err != nil {
		return err
	}
	if err := d.startStandIns(); err != nil {
		return err
	}
	for _, r := range d.regions() {
		if err := d.startService(r); err != nil {
			return err
		}
		u, _ := url.Parse("http://" + d.apiAddr(r))
		d.parts[r].gateway = gateway.New(u)
		d.serveHTTP(d.ports.gateway[r], d.parts[r].gateway)
	}
	d.startFrontDoor()
	d.serveHTTP(d.ports.control, d.api())
	if err := d.waitHealthy(ctx, d.cfg.PrimaryRegion, 20*time.Second); err != nil {
		return err
	}
	go d.door.Run(ctx)
	go d.heartbeat(ctx)
	go d.keepJournalLeader(ctx)
	return nil
}

// serviceEnv is region's payment service environment: the same variables
// the Lambda function gets, pointed at the lab's stand-ins.
func (d *Daemon) serviceEnv(region string) []string {
	n := d.naming()
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + string(d.dir), "AWS_REGION=" + region, "ENVIRONMENT=" + d.cfg.Environment,
		"AWS_ACCESS_KEY_ID=lab", "AWS_SECRET_ACCESS_KEY=lab", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://" + d.ports.secrets.Addr().String(),
		"AWS_ENDPOINT_URL_EVENTBRIDGE=http://" + d.ports.bus[region].Addr().String(),
		"AWS_ENDPOINT_URL_DYNAMODB=" + d.state.DynamoEndpoint,
		naming.JournalTableEnv + "=" + n.JournalTable(), naming.JournalEndpointEnv + "=" + d.journalEndpoint(region),
		"SESSION_TABLE=" + n.SessionTable(), "EVENT_BUS_NAME=" + n.EventBus(region), "API_KEY_SECRET_ID=" + n.APIKeySecretName(),
		"DB_DSN=" + d.parts[region].server.DSN(mariadb.AppUser, d.state.Passwords[mariadb.AppUser], n.DatabaseName()),
		"LISTEN_ADDR=" + d.apiAddr(region), naming.LabClockOffsetEnv + "=" + d.clockOffsetEnv(region)}
}

// startService starts region's payment service on its own database.
func (d *Daemon) startService(region string) error {
	p, err := proc.Start(string(d.dir), "payments-"+region, d.opt.PaymentsBin, nil, d.serviceEnv(region))
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.parts[region].service = p
	d.mu.Unlock()
	return proc.WaitTCP(p, d.apiAddr(region), 20*time.Second)
}

// apiAddr is where region's payment service listens, behind its gateway.
func (d *Daemon) apiAddr(region string) string {
	return "127.0.0.1:" + strconv.Itoa(d.ports.api[region])
}

// apiURL is region's public API: its gateway.
func (d *Daemon) apiURL(region string) string {
	return "http://127.0.0.1:" + strconv.Itoa(d.state.APIPorts[region])
}

// doorOptions are the Route 53 stand-in's health checks and TTL.
func (d *Daemon) doorOptions() frontdoor.Options {
	return frontdoor.Options{Interval: d.opt.CheckInterval, Threshold: d.opt.FailureThreshold, TTL: d.opt.TTL}
}

// startFrontDoor serves the failover URL and the failover name's DNS.
func (d *Daemon) startFrontDoor() {
	target := func(r string) frontdoor.Target {
		u, _ := url.Parse(d.apiURL(r))
		return frontdoor.Target{Region: r, URL: u}
	}
	d.door = frontdoor.New(target(d.cfg.PrimaryRegion), target(d.cfg.SecondaryRegion), d.doorOptions())
	d.serveHTTP(d.ports.frontdoor, d.door)
	h := &frontdoor.DNS{Name: dns.Fqdn(d.naming().APIHost()), Door: d.door, TTL: d.opt.TTL}
	for _, s := range []*dns.Server{{PacketConn: d.ports.dnsUDP, Handler: h}, {Listener: d.ports.dnsTCP, Handler: h}} {
		d.servers = append(d.servers, dnsServer{s})
		go func() { _ = s.ActivateAndServe() }()
	}
}

// dnsServer is a DNS server as the daemon stops it.
type dnsServer struct{ *dns.Server }

func (s dnsServer) Close() error { return s.Shutdown() }

// waitHealthy checks region until its health check passes.
func (d *Daemon) waitHealthy(ctx context.Context, region string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		d.door.CheckNow(ctx)
		if ok, _ := d.door.Healthy(region); ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s payment service did not report healthy within %s; see %s", region, timeout, d.dir.Path("logs", "payments-"+region+".log"))
		}
	}
}
