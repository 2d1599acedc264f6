package daemon

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
)

// startDynalite starts dynalite and the front clients reach it through.
func (d *Daemon) startDynalite() error {
	p, err := backends.StartDynalite(string(d.dir), d.opt.Dynalite, d.ports.dynalite)
	if err != nil {
		return err
	}
	d.dynalite = p
	front, err := backends.WholeRequests("http://127.0.0.1:" + strconv.Itoa(d.ports.dynalite))
	if err != nil {
		return err
	}
	d.serveHTTP(d.ports.dynamo, front)
	return nil
}

// startStandIns serves the AWS stand-ins the services call: Secrets
// Manager and one event bus per Region, each bus forwarding to the other
// Region's as a cross-Region rule does.
func (d *Daemon) startStandIns() error {
	n := d.naming()
	if err := os.MkdirAll(d.dir.Path("events"), 0o700); err != nil {
		return err
	}
	primary, secondary := d.parts[d.cfg.PrimaryRegion], d.parts[d.cfg.SecondaryRegion]
	primary.bus = &backends.EventBus{Region: primary.name, Log: d.dir.Path("events", primary.name+".jsonl")}
	secondary.bus = &backends.EventBus{Region: secondary.name, Log: d.dir.Path("events", secondary.name+".jsonl"), Other: primary.bus}
	primary.bus.Other = secondary.bus
	d.serveHTTP(d.ports.secrets, backends.NewSecretsManagerHandler(map[string]string{n.APIKeySecretName(): d.state.Passwords[apiKeyEntry]}))
	for _, r := range d.parts {
		d.serveHTTP(d.ports.bus[r.name], r.bus)
	}
	return nil
}

func (d *Daemon) serveHTTP(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.servers = append(d.servers, srv)
	go func() { _ = srv.Serve(l) }()
}
