// Package dnscheck asks a zone's authoritative name servers which Region
// the failover name answers with. It is the data-plane view of DNS
// failover: Route 53 serves its authoritative answers from every edge
// location even while its control plane (us-east-1) is down, so drctl can
// verify a failover without calling Route 53's API.
package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Checker resolves names on the zone's authoritative servers.
type Checker struct {
	// Zone is the hosted zone (payment-dev.example.com).
	Zone string
	// Servers are the authoritative servers as host:port. Empty: they are
	// found by asking the system resolver for the zone's NS records.
	Servers []string
	// Timeout bounds one query to one server (default 2 s).
	Timeout time.Duration
}

// Answer returns the Region whose Regional name (regional[region]) has an
// address in common with the failover name's answer. It fails if no
// server answers authoritatively or the answer matches no Region.
func (c Checker) Answer(ctx context.Context, failover string, regional map[string]string) (string, error) {
	servers, err := c.servers(ctx)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, srv := range servers {
		region, err := c.answerFrom(ctx, srv, failover, regional)
		if err == nil {
			return region, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", srv, err))
	}
	return "", fmt.Errorf("DNS %s: %w", failover, errors.Join(errs...))
}

func (c Checker) answerFrom(ctx context.Context, srv, failover string, regional map[string]string) (string, error) {
	got, err := c.lookup(ctx, srv, failover)
	if err != nil {
		return "", err
	}
	regions := make([]string, 0, len(regional))
	for r := range regional {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, r := range regions {
		addrs, err := c.lookup(ctx, srv, regional[r])
		if err != nil {
			return "", err
		}
		for _, a := range got {
			if slices.Contains(addrs, a) {
				return r, nil
			}
		}
	}
	return "", fmt.Errorf("%s answers %v, an address of no Region's name", failover, got)
}

// lookup asks srv for the A records of name, without recursion, and
// insists on an authoritative answer.
func (c Checker) lookup(ctx context.Context, srv, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = false
	cl := &dns.Client{Timeout: c.timeout()}
	qctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	in, _, err := cl.ExchangeContext(qctx, m, srv)
	if err != nil {
		return nil, err
	}
	if !in.Authoritative {
		return nil, fmt.Errorf("answer for %s is not authoritative", name)
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%s: %s", name, dns.RcodeToString[in.Rcode])
	}
	var out []string
	for _, rr := range in.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no A record", name)
	}
	return out, nil
}

func (c Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 2 * time.Second
}

func (c Checker) servers(ctx context.Context) ([]string, error) {
	if len(c.Servers) > 0 {
		return c.Servers, nil
	}
	ns, err := net.DefaultResolver.LookupNS(ctx, c.Zone)
	if err != nil {
		return nil, fmt.Errorf("finding the name servers of %s: %w", c.Zone, err)
	}
	var out []string
	for _, n := range ns {
		out = append(out, net.JoinHostPort(strings.TrimSuffix(n.Host, "."), "53"))
	}
	return out, nil
}
