package daemon

import (
	"fmt"
	"net"

	"github.com/payment-dr/payment-dr/internal/proc"
)

// ports are the lab's loopback ports, all below the kernel's ephemeral
// range (proc.ListenLoopback). The in-process servers' listeners are
// bound here and kept (no other program can take them meanwhile); child
// processes get free ports, which they bind themselves.
type ports struct {
	control   net.Listener // the control API
	frontdoor net.Listener // the failover URL
	secrets   net.Listener // Secrets Manager stand-in
	dynamo    net.Listener // the front clients use to reach dynalite
	bus       map[string]net.Listener
	link      map[string]net.Listener // handed over to Toxiproxy, which listens itself
	journal   map[string]net.Listener // each Region's endpoint of the journal's MRSC stand-in
	gateway   map[string]net.Listener // each Region's API Gateway stand-in: its public API port
	dnsUDP    net.PacketConn
	dnsTCP    net.Listener

	db       map[string]int // each Region's MariaDB
	api      map[string]int // each Region's payment service, behind its gateway
	dynalite int
}

// allocatePorts binds or picks every port of a lab of regions.
func allocatePorts(regions []string) (*ports, error) {
	p := &ports{bus: map[string]net.Listener{}, link: map[string]net.Listener{}, journal: map[string]net.Listener{}, gateway: map[string]net.Listener{},
		db: map[string]int{}, api: map[string]int{}}
	listen := func(name string) (net.Listener, error) {
		l, err := proc.ListenLoopback()
		if err != nil {
			return nil, fmt.Errorf("no free loopback port for %s: %w", name, err)
		}
		return l, nil
	}
	free := func() (int, error) { return proc.FreePort() }
	var err error
	for _, f := range []struct {
		l    *net.Listener
		name string
	}{{&p.control, "control"}, {&p.frontdoor, "frontdoor"}, {&p.secrets, "secrets"}, {&p.dynamo, "dynamo"}} {
		if *f.l, err = listen(f.name); err != nil {
			p.close()
			return nil, err
		}
	}
	for _, r := range regions {
		if p.bus[r], err = listen("bus-" + r); err == nil {
			p.link[r], err = listen("link-" + r)
		}
		if err == nil {
			p.journal[r], err = listen("journal-" + r)
		}
		if err == nil {
			p.gateway[r], err = listen("gateway-" + r)
		}
		if err == nil {
			p.db[r], err = free()
		}
		if err == nil {
			p.api[r], err = free()
		}
		if err != nil {
			p.close()
			return nil, err
		}
	}
	if p.dynalite, err = free(); err == nil {
		p.dnsUDP, p.dnsTCP, err = dnsListeners()
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// port is l's port.
func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

// close releases every listener still held.
func (p *ports) close() {
	for _, l := range []net.Listener{p.control, p.frontdoor, p.secrets, p.dynamo, p.dnsTCP} {
		if l != nil {
			l.Close()
		}
	}
	for _, m := range []map[string]net.Listener{p.bus, p.link, p.journal, p.gateway} {
		for _, l := range m {
			l.Close()
		}
	}
	if p.dnsUDP != nil {
		p.dnsUDP.Close()
	}
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
