// Package stack defines the payment DR infrastructure as AWS CDK constructs.
// One constructor per concern (network, database, data, secrets, compute,
// api, events, backup, observability, dns, drstate); a Region is a parameter, so the
// primary and the secondary are the same code called with different props.
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// region is what every regional constructor needs to know about where it is.
type region struct {
	cfg   config.Config
	names naming.Names
	name  string // this Region, e.g. us-east-1
	peer  string // the other Region
}

func newRegion(cfg config.Config, name string) region {
	return region{cfg: cfg, names: naming.New(cfg.Environment, cfg.DomainName), name: name, peer: cfg.Other(name)}
}

// isPrimary reports whether this Region is the configured (initial) primary.
func (r region) isPrimary() bool { return r.name == r.cfg.PrimaryRegion }

// role is the reference's name for the Region in SSM paths.
func (r region) role() string {
	if r.isPrimary() {
		return "primary"
	}
	return "secondary"
}

// removal is RETAIN/SNAPSHOT when deletion protection is on, DESTROY for
// throw-away test environments.
func (r region) removal(protected awscdk.RemovalPolicy) awscdk.RemovalPolicy {
	if r.cfg.DeletionProtected() {
		return protected
	}
	return awscdk.RemovalPolicy_DESTROY
}
