package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/stack"
)

// describe prints what scripts/deploy.sh needs to deploy the environment
// in stages, as shell assignments (every value is validated by config and
// built by naming, so it needs no quoting beyond %q's).
func describe(w io.Writer, cfg config.Config) error {
	n := naming.New(cfg.Environment, cfg.DomainName)
	if cfg.Account == config.PlaceholderAccount {
		return fmt.Errorf("account: %s is the offline placeholder; set the real account to deploy", cfg.Account)
	}
	for _, kv := range [][2]string{
		{"ACCOUNT", cfg.Account},
		{"ENVIRONMENT", cfg.Environment},
		{"GLOBAL_REGION", stack.GlobalRegion},
		{"PRIMARY_REGION", cfg.PrimaryRegion},
		{"SECONDARY_REGION", cfg.SecondaryRegion},
		{"GLOBAL_STACK", n.GlobalStack()},
		{"PRIMARY_STACK", n.RegionalStack(cfg.PrimaryRegion)},
		{"SECONDARY_STACK", n.RegionalStack(cfg.SecondaryRegion)},
		{"REGIONSWITCH_STACK", n.RegionSwitchStack()},
		{"ZONE", n.ZoneName()},
		{"DELEGATED_BY_STACK", strconv.FormatBool(cfg.ParentHostedZoneID != "")},
		{"ACTIVE_REGION_PARAM", n.ActiveRegionParam()},
		{"MIGRATE_FUNCTION_PRIMARY", n.MigrateFunction(cfg.PrimaryRegion)},
		{"MIGRATE_FUNCTION_SECONDARY", n.MigrateFunction(cfg.SecondaryRegion)},
		{"API_HOST", n.APIHost()},
		{"API_KEY_SECRET", n.APIKeySecretName()},
	} {
		if _, err := fmt.Fprintf(w, "%s=%q\n", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}
