package dnscheck

import (
	"context"
	"strings"
	"testing"

	"github.com/payment-dr/payment-dr/internal/dr/dnscheck/dnstest"
)

var regional = map[string]string{"us-east-1": "api-us-east-1.payment-dev.example.com", "us-west-2": "api-us-west-2.payment-dev.example.com"}

func TestAnswerFollowsTheFailoverRecord(t *testing.T) {
	z := &dnstest.Zone{Records: map[string]string{
		"api.payment-dev.example.com.":           "192.0.2.1",
		"api-us-east-1.payment-dev.example.com.": "192.0.2.1",
		"api-us-west-2.payment-dev.example.com.": "198.51.100.7",
	}}
	dnstest.StartZone(t, z)
	c := Checker{Zone: "payment-dev.example.com", Servers: []string{z.Addr}}
	got, err := c.Answer(context.Background(), "api.payment-dev.example.com", regional)
	if err != nil || got != "us-east-1" {
		t.Fatalf("%q %v", got, err)
	}
	z.Set("api.payment-dev.example.com.", "198.51.100.7")
	if got, err := c.Answer(context.Background(), "api.payment-dev.example.com", regional); err != nil || got != "us-west-2" {
		t.Fatalf("after failover %q %v", got, err)
	}
	z.Set("api.payment-dev.example.com.", "203.0.113.9")
	if _, err := c.Answer(context.Background(), "api.payment-dev.example.com", regional); err == nil || !strings.Contains(err.Error(), "no Region") {
		t.Fatalf("unknown address: %v", err)
	}
	z.NotAuth = true
	if _, err := c.Answer(context.Background(), "api.payment-dev.example.com", regional); err == nil || !strings.Contains(err.Error(), "not authoritative") {
		t.Fatalf("non-authoritative answer accepted: %v", err)
	}
}
