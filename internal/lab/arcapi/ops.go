package arcapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
)

// reader reads an operation's input members, keeping the first
// validation error so that an operation checks all its members in a
// straight line and looks at the error once.
type reader struct {
	m   cbor.Map
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = badRequest(format, args...)
	}
}

// str reads a string member; a required one must be present and non-empty.
func (r *reader) str(name string, required bool) string {
	v, ok := r.m[name]
	if _, null := v.(*cbor.Nil); !ok || null {
		if required {
			r.fail("%s is required", name)
		}
		return ""
	}
	s, ok := v.(cbor.String)
	if !ok {
		r.fail("%s must be a string, not a CBOR %T", name, v)
		return ""
	}
	if required && s == "" {
		r.fail("%s is required and must not be empty", name)
	}
	return string(s)
}

// enum reads a string member that must be one of allowed (when present).
func (r *reader) enum(name string, required bool, allowed ...string) string {
	s := r.str(name, required)
	if s != "" && !slices.Contains(allowed, s) {
		r.fail("%s %q is not one of %s", name, s, strings.Join(allowed, " | "))
	}
	return s
}

func (r *reader) planArn() string {
	s := r.str("planArn", true)
	if s != "" && !planArnRe.MatchString(s) {
		r.fail("planArn %q does not match %s", s, planArnRe)
	}
	return s
}

func (r *reader) comment() string {
	s := r.str("comment", false)
	if len(s) > maxComment {
		r.fail("comment is %d characters, more than %d", len(s), maxComment)
	}
	return s
}

// maxResults reads the optional page size: an integer of at least 1.
// (The stored Reference pages give no upper bound; larger pages are cut
// to maxPage.)
func (r *reader) maxResults(def int) int {
	v, ok := r.m["maxResults"]
	if !ok {
		return def
	}
	n, isUint := v.(cbor.Uint)
	if !isUint || n < 1 {
		r.fail("maxResults must be an integer of at least 1")
		return def
	}
	return int(min(n, maxPage))
}

const maxPage = 1000

// page cuts items [0, n) at the request's nextToken and maxResults,
// returning the slice bounds and the next token ("" on the last page).
func (r *reader) page(n, def int) (from, to int, next string) {
	size := r.maxResults(def)
	if tok := r.str("nextToken", false); tok != "" {
		off, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if !strings.HasPrefix(tok, "page-") || err != nil || off < 0 || off > n {
			r.fail("nextToken %q is not a token this operation returned", tok)
			return 0, 0, ""
		}
		from = off
	}
	to = min(from+size, n)
	if to < n {
		next = "page-" + strconv.Itoa(to)
	}
	return from, to, next
}

// timestamp encodes t as the protocol does: tag 1, epoch seconds.
func timestamp(t time.Time) cbor.Value {
	return cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1e3)}
}

// putTime sets m[key] unless t is zero (an optional member left out).
func putTime(m cbor.Map, key string, t time.Time) {
	if !t.IsZero() {
		m[key] = timestamp(t)
	}
}

func putString(m cbor.Map, key, s string) {
	if s != "" {
		m[key] = cbor.String(s)
	}
}

// executionStates are ExecutionState's values (ARC API Reference,
// ListPlanExecutions.state).
var executionStates = []string{"inProgress", "pausedByFailedStep", "pausedByOperator", "completed", "completedWithExceptions",
	"canceled", "planExecutionTimedOut", "pendingManualApproval", "failed", "pending", "completedMonitoringApplicationHealth"}

// listPlans: ListPlansInRegion over the daemon's plans that the service
// knows (ARC API Reference, AbbreviatedPlan: arn, name, owner,
// recoveryApproach and regions are required).
func (h *Handler) listPlans(ctx context.Context, in cbor.Map) (cbor.Map, error) {
	r := &reader{m: in}
	from, to, next := r.page(len(h.Plans), h.PageSize)
	if r.err != nil {
		return nil, r.err
	}
	plans := cbor.List{}
	for _, p := range h.Plans[from:to] {
		arn, err := h.Svc.PlanARN(ctx, p.Name)
		if errors.Is(err, arcexec.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		plans = append(plans, abbreviatedPlan(p, arn))
	}
	out := cbor.Map{"plans": plans}
	putString(out, "nextToken", next)
	return out, nil
}

func abbreviatedPlan(p Plan, arn string) cbor.Map {
	regions := cbor.List{}
	for _, r := range p.Regions {
		regions = append(regions, cbor.String(r))
	}
	owner := ""
	if parts := strings.Split(arn, ":"); len(parts) > 4 {
		owner = parts[4] // arn:aws:arc-region-switch::ACCOUNT:plan/...
	}
	m := cbor.Map{"arn": cbor.String(arn), "name": cbor.String(p.Name), "owner": cbor.String(owner),
		"recoveryApproach": cbor.String("activePassive"), "regions": regions}
	putString(m, "primaryRegion", p.PrimaryRegion)
	return m
}

// start: StartPlanExecution (ARC API Reference: planArn, targetRegion and
// action required; action activate | deactivate | postRecovery; mode
// graceful | ungraceful; comment up to 1024 characters; recoveryExecutionId
// required for postRecovery). drctl's plan is active/passive: its
// workflows activate and post-recover, so deactivate is refused.
func (h *Handler) start(ctx context.Context, in cbor.Map) (cbor.Map, error) {
	r := &reader{m: in}
	req := arcexec.StartRequest{PlanArn: r.planArn(), TargetRegion: r.str("targetRegion", true),
		Action: r.enum("action", true, "activate", "deactivate", "postRecovery"),
		Mode:   r.enum("mode", false, "graceful", "ungraceful"), Comment: r.comment()}
	latest := r.enum("latestVersion", false, "true", "false")
	recovery := r.str("recoveryExecutionId", false)
	switch {
	case r.err != nil:
		return nil, r.err
	case !regionRe.MatchString(req.TargetRegion):
		return nil, badRequest("targetRegion %q is not a Region name", req.TargetRegion)
	case req.Action == "deactivate":
		return nil, badRequest("action deactivate: the plan is active/passive, its workflows are activate and postRecovery")
	case latest == "false":
		return nil, badRequest("latestVersion false needs a plan version, which this API version cannot name")
	case req.Action == "postRecovery" && recovery == "":
		return nil, badRequest("recoveryExecutionId is required when starting a post-recovery execution")
	}
	if req.Mode == "" {
		req.Mode = "graceful"
	}
	if err := h.checkRecovery(ctx, req, recovery); err != nil {
		return nil, err
	}
	e, err := h.Svc.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	out := cbor.Map{"executionId": cbor.String(e.ID), "plan": cbor.String(e.PlanArn)}
	if req.Action == "activate" {
		out["activateRegion"] = cbor.String(req.TargetRegion)
	}
	return out, nil
}

// checkRecovery: a postRecovery names an activate execution of the plan.
func (h *Handler) checkRecovery(ctx context.Context, req arcexec.StartRequest, id string) error {
	if req.Action != "postRecovery" {
		return nil
	}
	e, err := h.Svc.Get(ctx, req.PlanArn, id)
	if err != nil {
		return fmt.Errorf("recoveryExecutionId %s: %w", id, err)
	}
	if e.Action != "activate" {
		return badRequest("recoveryExecutionId %s is a %s execution, not an activate (recovery) one", id, e.Action)
	}
	return nil
}

// get: GetPlanExecution, its step states in pages (ARC API Reference:
// planArn and executionId required; maxResults and nextToken page the
// stepStates).
func (h *Handler) get(ctx context.Context, in cbor.Map) (cbor.Map, error) {
	r := &reader{m: in}
	planArn, id := r.planArn(), r.str("executionId", true)
	if r.err != nil {
		return nil, r.err
	}
	e, err := h.Svc.Get(ctx, planArn, id)
	if err != nil {
		return nil, err
	}
	from, to, next := r.page(len(e.Steps), h.PageSize)
	if r.err != nil {
		return nil, r.err
	}
	out := execution(e)
	steps := cbor.List{}
	for _, s := range e.Steps[from:to] {
		st := cbor.Map{"name": cbor.String(s.Name), "status": cbor.String(s.Status)}
		putTime(st, "startTime", s.Started)
		putTime(st, "endTime", s.Ended)
		steps = append(steps, st)
	}
	out["stepStates"] = steps
	putString(out, "nextToken", next)
	return out, nil
}

// execution is the members GetPlanExecution and AbbreviatedExecution
// share (ARC API Reference: planArn, executionId, executionAction,
// executionRegion, executionState, mode and startTime are required).
func execution(e arcexec.Execution) cbor.Map {
	m := cbor.Map{"planArn": cbor.String(e.PlanArn), "executionId": cbor.String(e.ID), "executionAction": cbor.String(e.Action),
		"executionRegion": cbor.String(e.Region), "executionState": cbor.String(e.State), "mode": cbor.String(e.Mode),
		"startTime": timestamp(e.Started)}
	putTime(m, "endTime", e.Ended)
	putString(m, "comment", e.Comment)
	return m
}

// list: ListPlanExecutions, optionally of one state, in pages.
func (h *Handler) list(ctx context.Context, in cbor.Map) (cbor.Map, error) {
	r := &reader{m: in}
	planArn, state := r.planArn(), r.enum("state", false, executionStates...)
	if r.err != nil {
		return nil, r.err
	}
	all, err := h.Svc.List(ctx, planArn)
	if err != nil {
		return nil, err
	}
	if state != "" {
		all = slices.DeleteFunc(all, func(e arcexec.Execution) bool { return e.State != state })
	}
	from, to, next := r.page(len(all), h.PageSize)
	if r.err != nil {
		return nil, r.err
	}
	items := cbor.List{}
	for _, e := range all[from:to] {
		items = append(items, execution(e))
	}
	out := cbor.Map{"items": items}
	putString(out, "nextToken", next)
	return out, nil
}

// approve: ApprovePlanExecutionStep (ARC API Reference: planArn,
// executionId, stepName and approval, approve | decline, required).
func (h *Handler) approve(ctx context.Context, in cbor.Map) (cbor.Map, error) {
	r := &reader{m: in}
	planArn, id, step := r.planArn(), r.str("executionId", true), r.str("stepName", true)
	approval, comment := r.enum("approval", true, "approve", "decline"), r.comment()
	if r.err != nil {
		return nil, r.err
	}
	if err := h.Svc.Approve(ctx, planArn, id, step, approval == "approve", comment); err != nil {
		return nil, err
	}
	return cbor.Map{}, nil
}

// cancel: CancelPlanExecution (ARC API Reference: planArn and executionId
// required).
func (h *Handler) cancel(ctx context.Context, in cbor.Map) (cbor.Map, error) {
	r := &reader{m: in}
	planArn, id := r.planArn(), r.str("executionId", true)
	r.comment()
	if r.err != nil {
		return nil, r.err
	}
	if err := h.Svc.Cancel(ctx, planArn, id); err != nil {
		return nil, err
	}
	return cbor.Map{}, nil
}
