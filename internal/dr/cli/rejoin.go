package cli

import (
	"context"
	"flag"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
	"github.com/payment-dr/payment-dr/internal/dr/plan"
)

// cmdRejoin makes a Region that came back after an unplanned failover a
// ready standby. It is a plan like the moves (journal, resume, report);
// --region is kept in Options.To, the run's target.
var cmdRejoin = &Command{
	Name: "rejoin", UsageLine: "rejoin --region REGION [--via drctl|arc]",
	Short: "after an unplanned failover: fence the returned Region, check it caught up, repair it, compare its data, lift the fence",
	Flags: func(fs *flag.FlagSet, v *inv) {
		moveFlags(fs, v, false)
		fs.StringVar(&v.o.To, "region", "", "the Region that came back (the old primary of an unplanned failover)")
		viaFlag(fs, v)
	},
	Check: func(v *inv) error {
		if v.o.To != v.cfg.PrimaryRegion && v.o.To != v.cfg.SecondaryRegion {
			return badUsage("rejoin needs --region REGION, the Region that came back (%s or %s)", v.cfg.PrimaryRegion, v.cfg.SecondaryRegion)
		}
		if err := checkMove(v, "rejoin"); err != nil {
			return err
		}
		return checkVia(v)
	},
	Run: func(ctx context.Context, v *inv) error {
		if v.o.Via == ViaARC {
			// A post-recovery execution runs in the active Region, the
			// one the returned Region rejoins (package arcexec).
			return v.arcMove(ctx, arcStart{kind: arcplan.KindRejoin, action: arcplan.PostRecovery, mode: arcplan.Graceful, region: v.cfg.Other(v.o.To)})
		}
		return v.move(ctx, "rejoin", func(c *dr.Controller) plan.Plan { return c.Rejoin(v.o.To) })
	},
}
