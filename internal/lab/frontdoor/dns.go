package frontdoor

import (
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS answers the failover name authoritatively: an A record (loopback:
// the front door) and a TXT record "region=<Region>" naming the Region the
// record resolves to now, with the TTL as the records' TTL. Other names
// in the zone get NXDOMAIN, other zones REFUSED.
type DNS struct {
	Name string // fully qualified failover name, e.g. api.payment-dev.example.com.
	Door *Door
	TTL  time.Duration
}

// ServeDNS implements dns.Handler.
func (s *DNS) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	qq := q.Question[0]
	name := dns.Fqdn(strings.ToLower(qq.Name))
	zone := s.Name[strings.Index(s.Name, ".")+1:]
	switch {
	case name != s.Name && !dns.IsSubDomain(zone, name):
		m.Rcode = dns.RcodeRefused
	case name != s.Name:
		m.Rcode = dns.RcodeNameError
	default:
		ttl := uint32(s.TTL.Seconds())
		if ttl == 0 {
			ttl = 1
		}
		hdr := dns.RR_Header{Name: s.Name, Class: dns.ClassINET, Ttl: ttl}
		region := s.Door.Answer()
		if qq.Qtype == dns.TypeA || qq.Qtype == dns.TypeANY {
			h := hdr
			h.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: h, A: net.IPv4(127, 0, 0, 1)})
		}
		if qq.Qtype == dns.TypeTXT || qq.Qtype == dns.TypeANY {
			h := hdr
			h.Rrtype = dns.TypeTXT
			m.Answer = append(m.Answer, &dns.TXT{Hdr: h, Txt: []string{"region=" + region}})
		}
	}
	_ = w.WriteMsg(m)
}

// Query asks server (host:port) which Region name answers with.
func Query(server, name string, timeout time.Duration) (string, error) {
	c := &dns.Client{Timeout: timeout}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, _, err := c.Exchange(q, server)
	if err != nil {
		return "", err
	}
	if r.Rcode != dns.RcodeSuccess {
		return "", &net.DNSError{Err: dns.RcodeToString[r.Rcode], Name: name, Server: server}
	}
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			for _, s := range t.Txt {
				if v, ok := strings.CutPrefix(s, "region="); ok {
					return v, nil
				}
			}
		}
	}
	return "", &net.DNSError{Err: "no region TXT record", Name: name, Server: server}
}
