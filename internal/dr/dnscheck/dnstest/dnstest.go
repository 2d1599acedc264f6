// Package dnstest serves a small authoritative zone on loopback for tests.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Zone is a small authoritative server on loopback; tests change Records
// to move the failover name.
type Zone struct {
	mu      sync.Mutex
	Records map[string]string // fqdn -> IPv4
	// Lookup, if set, answers instead of Records ("" for no such name),
	// so a test's zone can follow its world.
	Lookup  func(fqdn string) string
	Queries []string
	// NotAuth makes answers non-authoritative (a resolver, not the zone).
	NotAuth bool
	Addr    string
}

// StartZone serves z on a loopback UDP port until the test ends.
func StartZone(t testing.TB, z *Zone) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: z}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	z.Addr = pc.LocalAddr().String()
}

// ServeDNS answers A queries from Records.
func (z *Zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = !z.NotAuth
	q := r.Question[0]
	z.Queries = append(z.Queries, q.Name)
	ip, ok := z.Records[strings.ToLower(q.Name)]
	if z.Lookup != nil {
		ip = z.Lookup(strings.ToLower(q.Name))
		ok = ip != ""
	}
	if ok && q.Qtype == dns.TypeA {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
	} else if !ok {
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// Set points name (fully qualified) at ip.
func (z *Zone) Set(name, ip string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.Records[name] = ip
}
