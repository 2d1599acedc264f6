package daemon

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/payment-dr/payment-dr/internal/dr"
	"github.com/payment-dr/payment-dr/internal/dr/action"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/dr/runlog"
	"github.com/payment-dr/payment-dr/internal/lab/arcapi"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labcloud"
	"github.com/payment-dr/payment-dr/internal/lab/regionswitch"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// LabPlanSuffix is the six characters ARC appends to a plan's ARN, in
// the lab (ARC API Reference, Plan.arn: plan/NAME:[a-z0-9]{6}).
const LabPlanSuffix = "lab001"

// actionPoll is how often the lab's custom actions re-check the lab, as
// drctl does against it.
const actionPoll = 200 * time.Millisecond

// startRegionSwitch loads the plan make synth wrote and starts the lab's
// Region switch on it: custom actions run the drctl-action handler
// against the lab, the Aurora block moves the lab's database, the
// Route 53 block steers the front door, and the triggers watch the
// probes. Without a plan the lab runs, and says why it has no Region
// switch.
func (d *Daemon) startRegionSwitch(ctx context.Context) error {
	if d.opt.Templates == "" {
		d.setRegionSwitch(nil, errors.New("no templates given (drlab up --templates)"))
		return nil
	}
	plan, path, err := regionswitch.Load(d.opt.Templates)
	if err != nil {
		d.setRegionSwitch(nil, err)
		log.Printf("no Region switch: %v", err)
		return nil
	}
	cloud, err := labcloud.Open(string(d.dir))
	if err != nil {
		return err
	}
	n := d.naming()
	arn := naming.ARN("arc-region-switch", "", d.cfg.Account, "plan/"+n.RegionSwitchPlan()+":"+LabPlanSuffix)
	logs := log.Writer()
	e, err := regionswitch.New(regionswitch.Options{Plan: plan, PlanArn: arn, Cfg: d.cfg, Cloud: cloud, Log: logs,
		Minute: d.opt.CheckInterval, Poll: d.opt.CheckInterval / 4,
		Route:  d.door.Control,
		Invoke: d.invokeAction(cloud)})
	if err != nil {
		return fmt.Errorf("the Region switch plan in %s: %w", path, err)
	}
	d.setRegionSwitch(e, nil)
	d.arcHTTP.Store(http.Handler(arcapi.New(e, arcapi.Plan{Name: n.RegionSwitchPlan(), Regions: d.cfg.Regions(), PrimaryRegion: d.cfg.PrimaryRegion})))
	if err := d.setTriggers(d.opt.ARCTriggers); err != nil {
		return err
	}
	log.Printf("Region switch plan %s from %s (triggers %s)", plan.Name, path, d.opt.ARCTriggers)
	go e.Watch(ctx, d.noWritableRegionSeen)
	return nil
}

// invokeAction runs region's drctl-action function: the same handler,
// with the lab as its cloud, its journals in the lab's directory (one per
// Region, as each Region's function has its own sandboxes) and mirrored in
// the lab's journal mirror, as the function's are in the session table.
func (d *Daemon) invokeAction(cloud *labcloud.Cloud) func(context.Context, string, action.Event) error {
	mirror := &labcloud.DirMirror{Dir: labcloud.MirrorDir(string(d.dir))}
	return func(ctx context.Context, region string, ev action.Event) error {
		h := &action.Handler{
			Mirror:     func(string) runlog.Mirror { return mirror },
			Controller: &dr.Controller{Cfg: d.cfg, Cloud: cloud, Reconcile: cloud, Poll: actionPoll, Log: log.Writer()},
			Executions: d.arcService(region), Dir: d.dir.Path(filepath.Join("arc-actions", region)),
		}
		res, err := h.Handle(ctx, ev)
		log.Printf("action %s in %s: %s (error: %v)", ev.StepName, region, res.Summary(), err)
		return err
	}
}

// setRegionSwitch records the Region switch, or why there is none: the
// control API already serves while the lab starts it.
func (d *Daemon) setRegionSwitch(e *regionswitch.Engine, why error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.arc, d.arcErr = e, why
}

func (d *Daemon) regionSwitch() (*regionswitch.Engine, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.arc, d.arcErr
}

// arcService is the execution API the lab's action function reads: the
// SDK client the function uses on AWS, pointed at the daemon's ARC API.
func (d *Daemon) arcService(region string) arcexec.Service {
	awsCfg := aws.Config{Region: region, BaseEndpoint: aws.String("http://" + d.state.Control),
		Credentials: credentials.NewStaticCredentialsProvider("LAB", "lab", "")}
	return awsops.NewRegionSwitch(d.cfg, awsops.Bounded(awsCfg, awsops.AttemptTimeout, awsops.MaxBackoff), region)
}

// arcAPI serves ARC's execution API (its RPC v2 CBOR protocol) for the
// lab's plan; without one, every call is answered ResourceNotFound.
func (d *Daemon) arcAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _ := d.arcHTTP.Load().(http.Handler)
		if h == nil {
			_, why := d.regionSwitch()
			h = arcapi.New(noPlan{why: why})
		}
		h.ServeHTTP(w, r)
	})
}

// noPlan answers for a lab without a Region switch plan.
type noPlan struct{ why error }

func (n noPlan) err() error {
	return fmt.Errorf("the lab runs no Region switch plan (%v): %w", n.why, arcexec.ErrNotFound)
}

func (n noPlan) PlanARN(context.Context, string) (string, error) { return "", n.err() }
func (n noPlan) Start(context.Context, arcexec.StartRequest) (arcexec.Execution, error) {
	return arcexec.Execution{}, n.err()
}
func (n noPlan) Get(context.Context, string, string) (arcexec.Execution, error) {
	return arcexec.Execution{}, n.err()
}
func (n noPlan) List(context.Context, string) ([]arcexec.Execution, error) { return nil, n.err() }
func (n noPlan) Approve(context.Context, string, string, string, bool, string) error {
	return n.err()
}
func (n noPlan) Cancel(context.Context, string, string) error { return n.err() }

// setTriggers applies an arc-triggers mode.
func (d *Daemon) setTriggers(mode string) error {
	arc, why := d.regionSwitch()
	if arc == nil {
		if mode == labapi.TriggersOff {
			return nil
		}
		return conflict("the lab has no Region switch plan: %v", why)
	}
	arc.SetTriggers(mode != labapi.TriggersOff, mode == labapi.TriggersAuto)
	return nil
}

// noWritableRegionSeen is the probe alarm of region: red while the
// Route 53 stand-in's checks find no Region taking payments. A Region
// that is down or cut off runs no probe that reports, and its alarm
// (TreatMissingData breaching) is not what the plan's other Region acts
// on; the lab reports it not red.
func (d *Daemon) noWritableRegionSeen(region string) bool {
	t := d.topology()
	if t.Down[region] || t.Partitioned[region] {
		return false
	}
	for _, r := range d.regions() {
		if healthy, seen := d.door.Healthy(r); healthy || !seen {
			return false
		}
	}
	return true
}

// releaseControl gives the failover record back to the Regions' health
// checks when a move took the writer elsewhere than ARC's health checks
// say (a drctl move after an ARC one).
func (d *Daemon) releaseControl() {
	if c := d.door.Controlled(); c != "" && c != d.topology().Writer {
		d.door.Control("")
		log.Printf("front door: ARC's health checks named %s, the writer moved; the Regions' checks answer again", c)
	}
}

// regionSwitchStatus is the Region switch's part of status.
func (d *Daemon) regionSwitchStatus(ctx context.Context) labapi.RegionSwitch {
	s := labapi.RegionSwitch{Triggers: labapi.TriggersOff, Controlled: d.door.Controlled()}
	arc, why := d.regionSwitch()
	if arc == nil {
		if why != nil {
			s.Error = why.Error()
		}
		return s
	}
	switch on, auto := arc.Triggers(); {
	case on && auto:
		s.Triggers = labapi.TriggersAuto
	case on:
		s.Triggers = labapi.TriggersApprove
	}
	s.Plan = arc.PlanArn()
	list, err := arc.List(ctx, s.Plan)
	if err != nil || len(list) == 0 {
		return s
	}
	x := list[0]
	run := &labapi.RegionSwitchRun{ID: x.ID, Action: x.Action, Mode: x.Mode, Region: x.Region, State: x.State, Comment: x.Comment, Started: x.Started, Ended: x.Ended}
	for _, st := range x.Steps {
		if st.Status == arcexec.StepPendingApproval {
			run.PendingApproval, run.ApprovalAsked = st.Name, st.Started
		}
	}
	s.Latest = run
	return s
}
