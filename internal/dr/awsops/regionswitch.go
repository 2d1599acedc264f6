package awsops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/arcregionswitch"
	arctypes "github.com/aws/aws-sdk-go-v2/service/arcregionswitch/types"
	"github.com/aws/smithy-go"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
)

// RegionSwitchAPI is the part of ARC Region switch's data plane drctl
// calls; the SDK client satisfies it.
type RegionSwitchAPI interface {
	ListPlansInRegion(context.Context, *arcregionswitch.ListPlansInRegionInput, ...func(*arcregionswitch.Options)) (*arcregionswitch.ListPlansInRegionOutput, error)
	StartPlanExecution(context.Context, *arcregionswitch.StartPlanExecutionInput, ...func(*arcregionswitch.Options)) (*arcregionswitch.StartPlanExecutionOutput, error)
	GetPlanExecution(context.Context, *arcregionswitch.GetPlanExecutionInput, ...func(*arcregionswitch.Options)) (*arcregionswitch.GetPlanExecutionOutput, error)
	ListPlanExecutions(context.Context, *arcregionswitch.ListPlanExecutionsInput, ...func(*arcregionswitch.Options)) (*arcregionswitch.ListPlanExecutionsOutput, error)
	ApprovePlanExecutionStep(context.Context, *arcregionswitch.ApprovePlanExecutionStepInput, ...func(*arcregionswitch.Options)) (*arcregionswitch.ApprovePlanExecutionStepOutput, error)
	CancelPlanExecution(context.Context, *arcregionswitch.CancelPlanExecutionInput, ...func(*arcregionswitch.Options)) (*arcregionswitch.CancelPlanExecutionOutput, error)
}

// RegionSwitch implements arcexec.Service with ARC Region switch's
// Regional data planes (arc-region-switch.<region>.api.aws).
//
// Which Region: every call here is a data-plane operation, served in each
// Region (ARC Developer Guide, "Region switch API operations", Data plane
// API column: ApprovePlanExecutionStep, CancelPlanExecution,
// GetPlanExecution, ListPlanExecutions, ListPlansInRegion,
// StartPlanExecution), and the data plane, not the control plane (one
// Region, us-east-1), is what stays available in a Regional event (ARC
// Developer Guide, "Data and control planes for Region switch"). A start
// goes first to its target Region: for activate the Region being
// activated, the one a failover expects to be healthy; for postRecovery
// the active Region. Calls on an execution go first to the Region that
// last answered for it (where it was started), others to Home. When a
// Region's data plane does not answer (no connection, timeout, 5xx,
// throttling after the SDK's retries), the other Region's is asked: both
// serve the same plan and executions. A start is sent to the other Region
// only when it never reached the first one (the dial failed): a start
// that may have arrived must not be sent twice.
type RegionSwitch struct {
	Clients map[string]RegionSwitchAPI // by Region
	Regions []string                   // the plan's two Regions
	Home    string                     // asked first when nothing else decides

	mu    sync.Mutex
	where map[string]string // execution ID -> Region that last answered for it
}

var _ arcexec.Service = (*RegionSwitch)(nil)

// NewRegionSwitch builds a data-plane client per Region of cfg from
// awsCfg (its BaseEndpoint, when set, replaces every Regional endpoint:
// the DR lab). home is asked first; it defaults to the primary Region.
func NewRegionSwitch(cfg config.Config, awsCfg aws.Config, home string) *RegionSwitch {
	if home != cfg.PrimaryRegion && home != cfg.SecondaryRegion {
		home = cfg.PrimaryRegion
	}
	s := &RegionSwitch{Clients: map[string]RegionSwitchAPI{}, Regions: cfg.Regions(), Home: home}
	for _, r := range cfg.Regions() {
		c := awsCfg.Copy()
		c.Region = r
		s.Clients[r] = arcregionswitch.NewFromConfig(c)
	}
	return s
}

// order is first, then the plan's other Region.
func (s *RegionSwitch) order(first string) []string {
	if s.Clients[first] == nil {
		first = s.Home
	}
	out := []string{first}
	for _, r := range s.Regions {
		if r != first {
			out = append(out, r)
		}
	}
	return out
}

// execRegion is the Region that last answered for execution id, or Home.
func (s *RegionSwitch) execRegion(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.where[id]; ok {
		return r
	}
	return s.Home
}

func (s *RegionSwitch) remember(id, region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.where == nil {
		s.where = map[string]string{}
	}
	s.where[id] = region
}

// inRegions calls fn in each Region of order(first) until one answers;
// retryable says which failures mean "did not answer". It returns the
// Region that answered.
func inRegions[T any](s *RegionSwitch, first string, retryable func(error) bool, fn func(RegionSwitchAPI) (T, error)) (T, string, error) {
	var errs []error
	for _, r := range s.order(first) {
		v, err := fn(s.Clients[r])
		if err == nil || !retryable(err) {
			return v, r, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", r, err))
	}
	var zero T
	return zero, "", errors.Join(errs...)
}

// unanswered: the Region's data plane gave no answer about the request
// (a modelled client error such as ResourceNotFoundException is an
// answer, and the other Region would give the same one).
func unanswered(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		return true
	}
	var ae smithy.APIError
	return !errors.As(err, &ae)
}

// neverSent: the request could not have reached the service.
func neverSent(err error) bool {
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &de) || (errors.As(err, &oe) && oe.Op == "dial")
}

// arcErr maps ARC's errors to arcexec's, keeping ARC's message (ARC API
// Reference, Errors of each operation). It matches the error's shape
// name, not the SDK type: for an exception an operation's model does not
// list (IllegalStateException of CancelPlanExecution, say) the SDK
// returns a smithy.GenericAPIError whose code is the whole __type,
// namespace included ("com.amazonaws.arcregionswitch#...").
func arcErr(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	code := ae.ErrorCode()
	switch code[strings.LastIndex(code, "#")+1:] {
	case "ResourceNotFoundException":
		return fmt.Errorf("%w: %w", arcexec.ErrNotFound, err)
	case "IllegalStateException", "IllegalArgumentException":
		return fmt.Errorf("%w: %w", arcexec.ErrConflict, err)
	}
	return err
}

// maxPages bounds a paginated read against a service that keeps handing
// out tokens.
const maxPages = 100

// PlanARN implements arcexec.Service: ListPlansInRegion, every page, for
// the plan named name.
func (s *RegionSwitch) PlanARN(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", errors.New("PlanARN: empty plan name")
	}
	arn, _, err := inRegions(s, s.Home, unanswered, func(c RegionSwitchAPI) (string, error) { return findPlan(ctx, c, name) })
	if err != nil {
		return "", fmt.Errorf("ListPlansInRegion: %w", arcErr(err))
	}
	if arn == "" {
		return "", fmt.Errorf("no Region switch plan named %s: %w", name, arcexec.ErrNotFound)
	}
	return arn, nil
}

// findPlan returns the ARN of the plan named name, "" if there is none.
func findPlan(ctx context.Context, c RegionSwitchAPI, name string) (string, error) {
	var token *string
	for range maxPages {
		out, err := c.ListPlansInRegion(ctx, &arcregionswitch.ListPlansInRegionInput{NextToken: token})
		if err != nil {
			return "", err
		}
		for _, p := range out.Plans {
			if aws.ToString(p.Name) == name {
				return aws.ToString(p.Arn), nil
			}
		}
		if token = out.NextToken; token == nil {
			return "", nil
		}
	}
	return "", fmt.Errorf("more than %d pages of plans", maxPages)
}

// sendOnceARC makes a start send its request once: StartPlanExecution is
// not idempotent in this API version (no client token), so a lost answer
// is settled by reading the executions, not by starting again.
func sendOnceARC(o *arcregionswitch.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }

// Start implements arcexec.Service: StartPlanExecution of the latest plan
// version. A postRecovery names the recovery execution it follows (ARC
// API Reference, StartPlanExecution.recoveryExecutionId, required for a
// post-recovery execution): the plan's newest activate execution.
func (s *RegionSwitch) Start(ctx context.Context, r arcexec.StartRequest) (arcexec.Execution, error) {
	in := &arcregionswitch.StartPlanExecutionInput{PlanArn: aws.String(r.PlanArn), TargetRegion: aws.String(r.TargetRegion),
		Action: arctypes.ExecutionAction(r.Action), Mode: arctypes.ExecutionMode(r.Mode), LatestVersion: aws.String("true")}
	if r.Comment != "" {
		in.Comment = aws.String(r.Comment)
	}
	if r.Action == string(arctypes.ExecutionActionPostRecovery) {
		id, err := s.recoveryExecution(ctx, r.PlanArn)
		if err != nil {
			return arcexec.Execution{}, err
		}
		in.RecoveryExecutionId = aws.String(id)
	}
	out, region, err := inRegions(s, r.TargetRegion, neverSent, func(c RegionSwitchAPI) (*arcregionswitch.StartPlanExecutionOutput, error) {
		return c.StartPlanExecution(ctx, in, sendOnceARC)
	})
	if err != nil {
		return arcexec.Execution{}, fmt.Errorf("StartPlanExecution: %w", arcErr(err))
	}
	id := aws.ToString(out.ExecutionId)
	s.remember(id, region)
	return arcexec.Execution{PlanArn: r.PlanArn, ID: id, Action: r.Action, Mode: r.Mode, Region: r.TargetRegion,
		State: arcexec.StateInProgress, Comment: r.Comment}, nil
}

// recoveryExecution is the ID of the plan's newest activate execution.
func (s *RegionSwitch) recoveryExecution(ctx context.Context, planArn string) (string, error) {
	list, err := s.List(ctx, planArn)
	if err != nil {
		return "", err
	}
	for _, e := range list {
		if e.Action == string(arctypes.ExecutionActionActivate) {
			return e.ID, nil
		}
	}
	return "", fmt.Errorf("postRecovery needs the activate execution it follows, and plan %s has none: %w", planArn, arcexec.ErrConflict)
}

// Get implements arcexec.Service: GetPlanExecution, following NextToken
// through the pages of step states.
func (s *RegionSwitch) Get(ctx context.Context, planArn, id string) (arcexec.Execution, error) {
	e, region, err := inRegions(s, s.execRegion(id), unanswered, func(c RegionSwitchAPI) (arcexec.Execution, error) {
		return getExecution(ctx, c, planArn, id)
	})
	if err != nil {
		return arcexec.Execution{}, fmt.Errorf("GetPlanExecution %s: %w", id, arcErr(err))
	}
	s.remember(id, region)
	return e, nil
}

func getExecution(ctx context.Context, c RegionSwitchAPI, planArn, id string) (arcexec.Execution, error) {
	var e arcexec.Execution
	var token *string
	for page := range maxPages {
		out, err := c.GetPlanExecution(ctx, &arcregionswitch.GetPlanExecutionInput{PlanArn: aws.String(planArn), ExecutionId: aws.String(id), NextToken: token})
		if err != nil {
			return arcexec.Execution{}, err
		}
		if page == 0 {
			e = fromGet(out)
		}
		for _, st := range out.StepStates {
			e.Steps = append(e.Steps, arcexec.StepState{Name: aws.ToString(st.Name), Status: string(st.Status),
				Started: aws.ToTime(st.StartTime), Ended: aws.ToTime(st.EndTime)})
		}
		if out.NextToken == nil || aws.ToString(out.NextToken) == aws.ToString(token) {
			return e, nil
		}
		token = out.NextToken
	}
	return arcexec.Execution{}, fmt.Errorf("more than %d pages of step states", maxPages)
}

func fromGet(o *arcregionswitch.GetPlanExecutionOutput) arcexec.Execution {
	return arcexec.Execution{PlanArn: aws.ToString(o.PlanArn), ID: aws.ToString(o.ExecutionId), Action: string(o.ExecutionAction),
		Mode: string(o.Mode), Region: aws.ToString(o.ExecutionRegion), State: string(o.ExecutionState),
		Comment: aws.ToString(o.Comment), Started: aws.ToTime(o.StartTime), Ended: aws.ToTime(o.EndTime)}
}

// List implements arcexec.Service: ListPlanExecutions, every page, newest
// first (ARC does not document the order it returns them in).
func (s *RegionSwitch) List(ctx context.Context, planArn string) ([]arcexec.Execution, error) {
	list, region, err := inRegions(s, s.Home, unanswered, func(c RegionSwitchAPI) ([]arcexec.Execution, error) {
		return listExecutions(ctx, c, planArn)
	})
	if err != nil {
		return nil, fmt.Errorf("ListPlanExecutions: %w", arcErr(err))
	}
	for _, e := range list {
		s.remember(e.ID, region)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Started.After(list[j].Started) })
	return list, nil
}

func listExecutions(ctx context.Context, c RegionSwitchAPI, planArn string) ([]arcexec.Execution, error) {
	var list []arcexec.Execution
	var token *string
	for range maxPages {
		out, err := c.ListPlanExecutions(ctx, &arcregionswitch.ListPlanExecutionsInput{PlanArn: aws.String(planArn), NextToken: token})
		if err != nil {
			return nil, err
		}
		for _, a := range out.Items {
			list = append(list, arcexec.Execution{PlanArn: aws.ToString(a.PlanArn), ID: aws.ToString(a.ExecutionId),
				Action: string(a.ExecutionAction), Mode: string(a.Mode), Region: aws.ToString(a.ExecutionRegion),
				State: string(a.ExecutionState), Comment: aws.ToString(a.Comment), Started: aws.ToTime(a.StartTime), Ended: aws.ToTime(a.EndTime)})
		}
		if token = out.NextToken; token == nil {
			return list, nil
		}
	}
	return nil, fmt.Errorf("more than %d pages of executions", maxPages)
}

// Approve implements arcexec.Service: ApprovePlanExecutionStep.
func (s *RegionSwitch) Approve(ctx context.Context, planArn, id, step string, approve bool, comment string) error {
	in := &arcregionswitch.ApprovePlanExecutionStepInput{PlanArn: aws.String(planArn), ExecutionId: aws.String(id),
		StepName: aws.String(step), Approval: arctypes.ApprovalDecline}
	if approve {
		in.Approval = arctypes.ApprovalApprove
	}
	if comment != "" {
		in.Comment = aws.String(comment)
	}
	_, _, err := inRegions(s, s.execRegion(id), unanswered, func(c RegionSwitchAPI) (*arcregionswitch.ApprovePlanExecutionStepOutput, error) {
		return c.ApprovePlanExecutionStep(ctx, in)
	})
	if err != nil {
		return fmt.Errorf("ApprovePlanExecutionStep %s %s: %w", id, step, arcErr(err))
	}
	return nil
}

// Cancel implements arcexec.Service: CancelPlanExecution.
func (s *RegionSwitch) Cancel(ctx context.Context, planArn, id string) error {
	in := &arcregionswitch.CancelPlanExecutionInput{PlanArn: aws.String(planArn), ExecutionId: aws.String(id)}
	_, _, err := inRegions(s, s.execRegion(id), unanswered, func(c RegionSwitchAPI) (*arcregionswitch.CancelPlanExecutionOutput, error) {
		return c.CancelPlanExecution(ctx, in)
	})
	if err != nil {
		return fmt.Errorf("CancelPlanExecution %s: %w", id, arcErr(err))
	}
	return nil
}
