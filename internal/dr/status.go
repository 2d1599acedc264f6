package dr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// RegionStatus is one Region's row of `drctl status`.
type RegionStatus struct {
	Region             string `json:"region"`
	ClusterStatus      string `json:"clusterStatus"`
	Writer             bool   `json:"writer"`
	ReplicationLagMs   *int64 `json:"replicationLagMs,omitempty"`
	HealthCheckHealthy *bool  `json:"healthCheckHealthy,omitempty"`
	TableReplica       string `json:"tableReplica"`
	TableLatencyMs     *int64 `json:"tableReplicationLatencyMs,omitempty"`
	NewestBackup       string `json:"newestBackup,omitempty"`
	BackupAgeHours     *int64 `json:"backupAgeHours,omitempty"`
	ActiveRegionParam  string `json:"activeRegionParam"`
	// Fence is the payment service's fence: "fenced", "open" or "unknown".
	Fence  string   `json:"fence"`
	Errors []string `json:"errors,omitempty"`
}

// Status is the whole picture.
type Status struct {
	GlobalCluster string         `json:"globalCluster"`
	GlobalStatus  string         `json:"globalStatus"`
	Primary       string         `json:"primary"`
	Regions       []RegionStatus `json:"regions"`
	At            time.Time      `json:"at"`
}

// Status gathers what an operator looks at first. A failing observation
// is reported in the row, not fatal: during an outage half of it fails.
func (c *Controller) Status(ctx context.Context) Status {
	s := Status{At: c.now().UTC()}
	g, err := c.Cloud.GlobalCluster(ctx)
	replicas, rerr := c.Cloud.TableReplicas(ctx)
	s.GlobalCluster, s.GlobalStatus, s.Primary = g.ID, g.Status, g.Writer()
	if err != nil {
		s.GlobalStatus = "unknown: " + err.Error()
	}
	for _, region := range c.Cfg.Regions() {
		row := RegionStatus{Region: region, ClusterStatus: "unknown", TableReplica: "unknown", Fence: "unknown"}
		fail := func(what string, err error) { row.Errors = append(row.Errors, what+": "+err.Error()) }
		if m, ok := g.Member(region); ok {
			row.ClusterStatus, row.Writer = m.Status, m.Writer
		}
		if !row.Writer {
			if lag, err := c.Cloud.ReplicationLag(ctx, region); err == nil {
				row.ReplicationLagMs = ptr(lag.Milliseconds())
			} else {
				fail("replication lag", err)
			}
		}
		if up, err := c.Cloud.HealthCheckHealthy(ctx, region); err == nil {
			row.HealthCheckHealthy = &up
		} else {
			fail("health check", err)
		}
		for _, r := range replicas {
			if r.Region == region {
				row.TableReplica = r.Status
			}
		}
		if rerr != nil {
			fail("table", rerr)
		}
		if lat, err := c.Cloud.TableReplicationLatency(ctx, region); err == nil {
			row.TableLatencyMs = ptr(lat.Milliseconds())
		} else {
			fail("table replication latency", err)
		}
		if t, err := c.Cloud.NewestRecoveryPoint(ctx, region); err == nil {
			row.NewestBackup = t.UTC().Format(time.RFC3339)
			row.BackupAgeHours = ptr(int64(s.At.Sub(t).Hours()))
		} else {
			fail("backups", err)
		}
		if v, err := c.Cloud.Parameter(ctx, region, c.names().ActiveRegionParam()); err == nil {
			row.ActiveRegionParam = v
		} else {
			fail("active-region parameter", err)
		}
		if f, err := c.Cloud.WritesFenced(ctx, region); err == nil {
			row.Fence = map[bool]string{true: "fenced", false: "open"}[f]
		} else {
			fail("fence", err)
		}
		s.Regions = append(s.Regions, row)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// WriteText prints the status as a table.
func (s Status) WriteText(w io.Writer) {
	fmt.Fprintf(w, "global cluster %s: %s, writer in %s (at %s)\n\n", s.GlobalCluster, s.GlobalStatus, orDash(s.Primary), s.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tROLE\tCLUSTER\tLAG\tHEALTH CHECK\tTABLE\tTABLE LAG\tNEWEST BACKUP\tACTIVE PARAM\tFENCE")
	for _, r := range s.Regions {
		role := "secondary"
		if r.Writer {
			role = "writer"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Region, role, r.ClusterStatus, ms(r.ReplicationLagMs, r.Writer),
			healthy(r.HealthCheckHealthy), r.TableReplica, ms(r.TableLatencyMs, false), age(r), orDash(r.ActiveRegionParam), r.Fence)
	}
	tw.Flush()
	for _, r := range s.Regions {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %s: %s\n", r.Region, e)
		}
	}
}

// WriteJSON prints the status for machines.
func (s Status) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func ms(v *int64, writer bool) string {
	if writer {
		return "-"
	}
	if v == nil {
		return "?"
	}
	return fmt.Sprintf("%d ms", *v)
}

func healthy(b *bool) string {
	switch {
	case b == nil:
		return "?"
	case *b:
		return "healthy"
	default:
		return "unhealthy"
	}
}

func age(r RegionStatus) string {
	if r.BackupAgeHours == nil {
		return "?"
	}
	return fmt.Sprintf("%dh ago", *r.BackupAgeHours)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
