package dr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payment-dr/payment-dr/internal/dr/plan"
)

// ErrMoveCancelled: RDS cancelled the switchover or failover and the
// writer did not move.
var ErrMoveCancelled = errors.New("the move was cancelled by RDS and the writer did not move")

func (c *Controller) waitTopology(target, moveStep string, allMembers bool) plan.Step {
	return plan.Step{
		Name: "wait-topology", Description: "wait until " + target + " holds the writer and the cluster is available",
		Calls:   []string{"rds:DescribeGlobalClusters (polled)"},
		Timeout: c.timeout(15 * time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			return plan.Wait(ctx, c.backoff(), "the new topology", func(ctx context.Context) (bool, error) {
				g, err := c.Cloud.GlobalCluster(ctx)
				if err != nil {
					return false, err
				}
				if cancelled(g, target) {
					return false, plan.Permanent(&plan.ReopenError{Step: moveStep, Err: fmt.Errorf("%w (writer still in %s)", ErrMoveCancelled, orDash(g.Writer()))})
				}
				m, _ := g.Member(target)
				if g.Writer() != target || m.Status != "available" {
					return false, nil
				}
				return !allMembers || allInSync(g) == nil, nil
			})
		},
	}
}

// waitStandbySync waits until every member is available and the old
// primary, now a secondary, replicates in sync: the run ends with a
// standby ready for the next move. It follows the traffic's move, since
// the new writer takes payments without it (over a slow link the old
// primary's replication takes many round trips to reconnect).
func (c *Controller) waitStandbySync() plan.Step {
	return plan.Step{
		Name: "wait-standby-sync", Description: "wait until the old primary replicates from the new writer in sync",
		Calls:   []string{"rds:DescribeGlobalClusters (polled)"},
		Timeout: c.timeout(15 * time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			return plan.Wait(ctx, c.backoff(), "the standby in sync", func(ctx context.Context) (bool, error) {
				g, err := c.Cloud.GlobalCluster(ctx)
				if err != nil {
					return false, err
				}
				return allInSync(g) == nil, nil
			})
		},
	}
}

// cancelled: RDS reports the move to target being cancelled, or no move
// is in progress, the cluster is available and the writer is elsewhere.
func cancelled(g GlobalCluster, target string) bool {
	if g.Move.Status == MoveCancelling {
		return true
	}
	return g.Move.Status == "" && g.Status == "available" && g.Writer() != "" && g.Writer() != target
}

func (c *Controller) verifyWrites(target string) plan.Step {
	return plan.Step{
		Name: "verify-writes", Description: "the payment service in " + target + " reports a writable database, itself as the journal's writer and a reachable table",
		Calls:   []string{"GET https://" + c.names().RegionalAPIHost(target) + "/health (polled)"},
		Timeout: c.timeout(5 * time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			var seen string
			err := plan.Wait(ctx, c.backoff(), target+" /health", func(ctx context.Context) (bool, error) {
				h, err := c.Cloud.Health(ctx, target)
				switch {
				case err != nil:
					seen = "no answer: " + err.Error()
					return false, err
				case !h.DBWritable:
					seen = "database not writable"
				case !h.TakesPayments():
					seen = "the journal's writer is " + h.Writer
				case !h.TableReachable:
					seen = "session table unreachable"
				}
				return h.TakesPayments() && h.TableReachable, nil
			})
			if err != nil && seen != "" {
				return fmt.Errorf("%w (last seen: %s)", err, seen)
			}
			return err
		},
	}
}

func (c *Controller) updateParameters(target string, requireBoth bool) plan.Step {
	n := c.names()
	return plan.Step{
		Name: "update-parameters", Description: "record " + target + " as the active Region and its writer endpoint",
		Calls: []string{
			"ssm:PutParameter " + n.ActiveRegionParam() + "=" + target + " (both Regions)",
			"ssm:PutParameter " + n.WriterEndpointParam() + "=<writer endpoint> (both Regions)",
		},
		Timeout: c.timeout(2 * time.Minute),
		// Done only when every Region that must be updated names the
		// target and its endpoint: a run interrupted half-way through the
		// Regions is finished on resume, not skipped.
		Done: func(ctx context.Context) (bool, error) {
			m, err := c.writerMember(ctx, target)
			if err != nil {
				return false, err
			}
			regions := []string{target}
			if requireBoth {
				regions = c.Cfg.Regions()
			}
			for _, region := range regions {
				active, err := c.Cloud.Parameter(ctx, region, n.ActiveRegionParam())
				if err != nil {
					return false, err
				}
				endpoint, err := c.Cloud.Parameter(ctx, region, n.WriterEndpointParam())
				if err != nil {
					return false, err
				}
				if active != target || endpoint != m.Endpoint {
					return false, nil
				}
			}
			return true, nil
		},
		Run: func(ctx context.Context, _ plan.Recorder) error {
			m, err := c.writerMember(ctx, target)
			if err != nil {
				return err
			}
			return c.putParameters(ctx, target, m.Endpoint, requireBoth)
		},
	}
}

// writerMember returns target's member, refusing unless it holds the
// writer: the parameters must never name a Region that does not.
func (c *Controller) writerMember(ctx context.Context, target string) (Member, error) {
	g, err := c.Cloud.GlobalCluster(ctx)
	if err != nil {
		return Member{}, err
	}
	if g.Writer() != target {
		return Member{}, fmt.Errorf("the writer is in %s, not %s: the parameters are not written", orDash(g.Writer()), target)
	}
	m, _ := g.Member(target)
	return m, nil
}

func (c *Controller) putParameters(ctx context.Context, target, endpoint string, requireBoth bool) error {
	n := c.names()
	var errs []error
	for _, region := range c.Cfg.Regions() {
		err := errors.Join(
			c.Cloud.PutParameter(ctx, region, n.ActiveRegionParam(), target),
			c.Cloud.PutParameter(ctx, region, n.WriterEndpointParam(), endpoint))
		switch {
		case err == nil:
		case region == target || requireBoth:
			errs = append(errs, fmt.Errorf("%s: %w", region, err))
		default:
			c.warn("parameters in %s not updated (%v); failback will", region, err)
		}
	}
	return errors.Join(errs...)
}

// verifyDNS checks DNS on the data plane: the zone's authoritative name
// servers answer the failover name with target's address, and a request
// through it reaches target. No Route 53 API call: its control plane is
// in us-east-1, the Region a failover may be running from.
func (c *Controller) verifyDNS(target string) plan.Step {
	n := c.names()
	return plan.Step{
		Name: "verify-dns", Description: n.APIHost() + " answers with " + target + " (authoritative DNS) and reaches it",
		Calls: []string{
			"DNS A " + n.APIHost() + " and api-<region> at the zone's authoritative name servers (polled)",
			"GET https://" + n.APIHost() + "/health until its \"region\" is " + target + " (polled, record TTL 60 s)",
		},
		Timeout: c.timeout(5 * time.Minute),
		Run: func(ctx context.Context, _ plan.Recorder) error {
			var seen string
			err := plan.Wait(ctx, c.backoff(), "DNS to follow the writer", func(ctx context.Context) (bool, error) {
				region, err := c.Cloud.FailoverAnswer(ctx)
				if err != nil || region != target {
					seen = "DNS answers " + orDash(region)
					return false, err
				}
				h, err := c.Cloud.FailoverHealth(ctx)
				if err != nil {
					seen = n.APIHost() + " did not answer"
					return false, err
				}
				seen = n.APIHost() + " answered from " + orDash(h.Region)
				return h.Region == target, nil
			})
			if err != nil && seen != "" {
				return fmt.Errorf("%w (last seen: %s)", err, seen)
			}
			return err
		},
	}
}
