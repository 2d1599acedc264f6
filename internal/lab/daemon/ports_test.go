package daemon

import (
	"net"
	"testing"
)

// Every part of the lab gets its own port.
func TestPortsAreDistinct(t *testing.T) {
	p, err := allocatePorts([]string{"us-east-1", "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	all := []int{port(p.control), port(p.frontdoor), port(p.secrets), port(p.dynamo), port(p.dnsTCP),
		p.dnsUDP.LocalAddr().(*net.UDPAddr).Port, p.dynalite}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		all = append(all, port(p.bus[r]), port(p.link[r]), p.db[r], p.api[r])
	}
	seen := map[int]bool{}
	for _, n := range all {
		// DNS shares its number between UDP and TCP on purpose.
		if seen[n] && n != port(p.dnsTCP) {
			t.Fatalf("port %d given twice in %v", n, all)
		}
		seen[n] = true
	}
}
