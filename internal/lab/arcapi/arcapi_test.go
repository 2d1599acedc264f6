package arcapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/arcregionswitch"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/lab/arcapi"
)

const planArn = "arn:aws:arc-region-switch::123456789012:plan/payment-dr-dev:abc123"

// fakeService is an in-memory arcexec.Service: one plan, executions
// started with the given steps, the approval step pending.
type fakeService struct {
	mu    sync.Mutex
	execs []arcexec.Execution
	steps []string
	calls []string
	start time.Time
}

func newFake(steps int) *fakeService {
	f := &fakeService{start: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)}
	for i := range steps {
		f.steps = append(f.steps, fmt.Sprintf("step-%02d", i))
	}
	return f
}

func (f *fakeService) PlanARN(_ context.Context, name string) (string, error) {
	if name != "payment-dr-dev" {
		return "", fmt.Errorf("plan %s: %w", name, arcexec.ErrNotFound)
	}
	return planArn, nil
}

func (f *fakeService) Start(_ context.Context, r arcexec.StartRequest) (arcexec.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("start %s %s %s %q", r.Action, r.Mode, r.TargetRegion, r.Comment))
	e := arcexec.Execution{PlanArn: r.PlanArn, ID: fmt.Sprintf("exec-%d", len(f.execs)+1), Action: r.Action, Mode: r.Mode,
		Region: r.TargetRegion, State: arcexec.StatePendingApproval, Comment: r.Comment,
		Started: f.start.Add(time.Duration(len(f.execs)) * time.Minute)}
	for i, s := range f.steps {
		st := arcexec.StepState{Name: s, Status: arcexec.StepCompleted, Started: e.Started, Ended: e.Started.Add(time.Second)}
		if i == len(f.steps)-1 {
			st = arcexec.StepState{Name: "approve", Status: arcexec.StepPendingApproval, Started: e.Started}
		}
		e.Steps = append(e.Steps, st)
	}
	f.execs = append(f.execs, e)
	return e, nil
}

func (f *fakeService) find(planArn, id string) (*arcexec.Execution, error) {
	for i := range f.execs {
		if f.execs[i].ID == id && f.execs[i].PlanArn == planArn {
			return &f.execs[i], nil
		}
	}
	return nil, fmt.Errorf("execution %s: %w", id, arcexec.ErrNotFound)
}

func (f *fakeService) Get(_ context.Context, planArn, id string) (arcexec.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.find(planArn, id)
	if err != nil {
		return arcexec.Execution{}, err
	}
	return *e, nil
}

func (f *fakeService) List(_ context.Context, planArn string) ([]arcexec.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []arcexec.Execution
	for _, e := range f.execs { // oldest first: the client sorts
		if e.PlanArn == planArn {
			e.Steps = nil
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeService) Approve(_ context.Context, planArn, id, step string, approve bool, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("approve %s %s %v %q", id, step, approve, comment))
	e, err := f.find(planArn, id)
	if err != nil {
		return err
	}
	if name, ok := e.PendingApproval(); !ok || name != step {
		return fmt.Errorf("step %s of %s is not pending approval: %w", step, id, arcexec.ErrConflict)
	}
	e.State, e.Steps[len(e.Steps)-1].Status = arcexec.StateCompleted, arcexec.StepCompleted
	if !approve {
		e.State, e.Steps[len(e.Steps)-1].Status = arcexec.StateCancelled, arcexec.StepCancelled
	}
	return nil
}

func (f *fakeService) Cancel(_ context.Context, planArn, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.find(planArn, id)
	if err != nil {
		return err
	}
	if e.Finished() {
		return fmt.Errorf("execution %s is %s: %w", id, e.State, arcexec.ErrConflict)
	}
	e.State = arcexec.StateCancelled
	return nil
}

var cfg = config.Config{Environment: "dev", PrimaryRegion: "us-east-1", SecondaryRegion: "us-west-2"}

func sdkConfig(url string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
}

// serve starts arcapi over f on loopback; the client is drctl's (real SDK).
func serve(t *testing.T, f *fakeService, pageSize int) (*awsops.RegionSwitch, string) {
	t.Helper()
	h := arcapi.New(f, arcapi.Plan{Name: "payment-dr-dev", Regions: cfg.Regions(), PrimaryRegion: cfg.PrimaryRegion})
	h.PageSize = pageSize
	mux := http.NewServeMux()
	mux.Handle(arcapi.PathPrefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return awsops.NewRegionSwitch(cfg, sdkConfig(srv.URL), "us-west-2"), srv.URL
}

func TestStartGetListApproveCancelRoundTrip(t *testing.T) {
	f := newFake(7)
	rs, _ := serve(t, f, 2) // 7 step states: 4 pages
	ctx := context.Background()
	arn, err := rs.PlanARN(ctx, "payment-dr-dev")
	if err != nil || arn != planArn {
		t.Fatalf("PlanARN: %q %v", arn, err)
	}
	if _, err := rs.PlanARN(ctx, "other"); !errors.Is(err, arcexec.ErrNotFound) {
		t.Errorf("unknown plan: %v", err)
	}
	e, err := rs.Start(ctx, arcexec.StartRequest{PlanArn: arn, TargetRegion: "us-west-2", Action: "activate", Mode: "ungraceful", Comment: "drill"})
	if err != nil || e.ID != "exec-1" || e.Region != "us-west-2" {
		t.Fatalf("Start: %+v %v", e, err)
	}
	got, err := rs.Get(ctx, arn, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Steps) != 7 || got.Steps[0].Name != "step-00" || got.Steps[6].Name != "approve" || got.Mode != "ungraceful" ||
		got.Action != "activate" || !got.Started.Equal(f.start) || got.Comment != "drill" || got.State != arcexec.StatePendingApproval {
		t.Fatalf("Get across pages: %+v", got)
	}
	if !got.Steps[0].Ended.Equal(f.start.Add(time.Second)) || !got.Steps[6].Ended.IsZero() {
		t.Errorf("step times: %+v", got.Steps)
	}
	if _, err := rs.Start(ctx, arcexec.StartRequest{PlanArn: arn, TargetRegion: "us-west-2", Action: "activate", Mode: "graceful"}); err != nil {
		t.Fatal(err)
	}
	list, err := rs.List(ctx, arn)
	if err != nil || len(list) != 2 || list[0].ID != "exec-2" || list[1].ID != "exec-1" {
		t.Fatalf("List (newest first, 2 per page): %+v %v", list, err)
	}
	if err := rs.Approve(ctx, arn, "exec-1", "approve", true, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := rs.Approve(ctx, arn, "exec-2", "approve", false, ""); err != nil {
		t.Fatal(err)
	}
	if err := rs.Cancel(ctx, arn, "exec-1"); !errors.Is(err, arcexec.ErrConflict) || !strings.Contains(err.Error(), "execution exec-1 is completed") {
		t.Errorf("cancel of a finished execution: %v", err)
	}
	want := `start activate ungraceful us-west-2 "drill"|start activate graceful us-west-2 ""|approve exec-1 approve true "ok"|approve exec-2 approve false ""`
	if got := strings.Join(f.calls, "|"); got != want {
		t.Errorf("calls:\n got %s\nwant %s", got, want)
	}
}

func TestPostRecoveryNamesTheRecoveryExecution(t *testing.T) {
	f := newFake(2)
	rs, _ := serve(t, f, 50)
	ctx := context.Background()
	if _, err := rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "postRecovery", Mode: "graceful"}); !errors.Is(err, arcexec.ErrConflict) {
		t.Errorf("postRecovery without an activate execution: %v", err)
	}
	rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "activate", Mode: "ungraceful"})
	if _, err := rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "postRecovery", Mode: "graceful"}); err != nil {
		t.Fatal(err)
	}
}

// TestErrorsMapToArcexec: ResourceNotFoundException -> ErrNotFound,
// IllegalStateException and IllegalArgumentException -> ErrConflict, each
// keeping ARC's message.
func TestErrorsMapToArcexec(t *testing.T) {
	rs, _ := serve(t, newFake(2), 50)
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		is   error
		msg  string
	}{
		{"get unknown", errOf(rs.Get(ctx, planArn, "nope")), arcexec.ErrNotFound, "ResourceNotFoundException: execution nope: not found"},
		{"cancel unknown", rs.Cancel(ctx, planArn, "nope"), arcexec.ErrNotFound, "ResourceNotFoundException"},
		{"approve unknown", rs.Approve(ctx, planArn, "nope", "approve", true, ""), arcexec.ErrNotFound, "ResourceNotFoundException"},
		{"bad arn", errOf(rs.Get(ctx, "arn:aws:arc-region-switch::1:plan/x:abc123", "e")), arcexec.ErrConflict, "IllegalArgumentException: planArn"},
		{"deactivate", errOf(rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "deactivate"})), arcexec.ErrConflict, "action deactivate"},
		{"bad mode", errOf(rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "activate", Mode: "fast"})), arcexec.ErrConflict, `mode "fast" is not one of graceful | ungraceful`},
		{"bad region", errOf(rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "mars", Action: "activate"})), arcexec.ErrConflict, `targetRegion "mars"`},
		{"long comment", rs.Approve(ctx, planArn, "e", "approve", true, strings.Repeat("x", 1025)), arcexec.ErrConflict, "comment is 1025 characters"},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.is) || c.err == nil || !strings.Contains(c.err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v with %q", c.name, c.err, c.is, c.msg)
		}
	}
	e, _ := rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "activate", Mode: "graceful"})
	if err := rs.Approve(ctx, planArn, e.ID, "step-00", true, ""); !errors.Is(err, arcexec.ErrConflict) || !strings.Contains(err.Error(), "IllegalStateException: step step-00 of exec-1 is not pending approval") {
		t.Errorf("approve of a step not pending: %v", err)
	}
}

func errOf[T any](_ T, err error) error { return err }

// TestWireProtocol checks what the SDK does not show: the protocol's
// headers, the error body's __type and message, the statuses.
func TestWireProtocol(t *testing.T) {
	_, url := serve(t, newFake(2), 50)
	post := func(op string, body cbor.Map, protocol string) (*http.Response, cbor.Map) {
		req, _ := http.NewRequest(http.MethodPost, url+"/service/ArcRegionSwitch/operation/"+op, bytes.NewReader(cbor.Encode(body)))
		req.Header.Set("Content-Type", "application/cbor")
		if protocol != "" {
			req.Header.Set("Smithy-Protocol", protocol)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		v, err := cbor.Decode(b.Bytes())
		if err != nil {
			t.Fatalf("%s: body is not CBOR: %v", op, err)
		}
		return resp, v.(cbor.Map)
	}
	resp, m := post("GetPlanExecution", cbor.Map{"planArn": cbor.String(planArn), "executionId": cbor.String("x")}, "rpc-v2-cbor")
	if resp.StatusCode != 404 || resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || resp.Header.Get("Content-Type") != "application/cbor" ||
		m["__type"] != cbor.String("com.amazonaws.arcregionswitch#ResourceNotFoundException") || !strings.Contains(string(m["message"].(cbor.String)), "execution x") {
		t.Errorf("not found: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	resp, m = post("GetPlanExecution", cbor.Map{"planArn": cbor.String(planArn)}, "rpc-v2-cbor")
	if resp.StatusCode != 400 || m["__type"] != cbor.String("com.amazonaws.arcregionswitch#IllegalArgumentException") || m["message"] != cbor.String("executionId is required") {
		t.Errorf("missing member: %d %v", resp.StatusCode, m)
	}
	resp, m = post("GetPlanExecution", cbor.Map{"planArn": cbor.Uint(1), "executionId": cbor.String("x")}, "rpc-v2-cbor")
	if resp.StatusCode != 400 || !strings.Contains(string(m["message"].(cbor.String)), "planArn must be a string") {
		t.Errorf("wrong type: %d %v", resp.StatusCode, m)
	}
	if resp, _ := post("GetPlanExecution", cbor.Map{}, ""); resp.StatusCode != 400 {
		t.Errorf("no Smithy-Protocol header: %d", resp.StatusCode)
	}
	if resp, m := post("CreatePlan", cbor.Map{}, "rpc-v2-cbor"); resp.StatusCode != 404 || m["__type"] != cbor.String("com.amazonaws.arcregionswitch#UnknownOperationException") {
		t.Errorf("control-plane operation: %d %v", resp.StatusCode, m)
	}
	resp, m = post("StartPlanExecution", cbor.Map{"planArn": cbor.String(planArn), "targetRegion": cbor.String("us-west-2"), "action": cbor.String("activate")}, "rpc-v2-cbor")
	if resp.StatusCode != 200 || m["executionId"] != cbor.String("exec-1") || m["activateRegion"] != cbor.String("us-west-2") {
		t.Errorf("start: %d %v", resp.StatusCode, m)
	}
	resp, m = post("GetPlanExecution", cbor.Map{"planArn": cbor.String(planArn), "executionId": cbor.String("exec-1"), "maxResults": cbor.Uint(1), "nextToken": cbor.String("page-9")}, "rpc-v2-cbor")
	if resp.StatusCode != 400 || !strings.Contains(string(m["message"].(cbor.String)), `nextToken "page-9"`) {
		t.Errorf("bad token: %d %v", resp.StatusCode, m)
	}
	resp, m = post("GetPlanExecution", cbor.Map{"planArn": cbor.String(planArn), "executionId": cbor.String("exec-1")}, "rpc-v2-cbor")
	if tag, ok := m["startTime"].(*cbor.Tag); resp.StatusCode != 200 || !ok || tag.ID != 1 {
		t.Errorf("startTime is not a tag-1 timestamp: %d %#v", resp.StatusCode, m["startTime"])
	}
}

// TestOtherRegionAnswersWhenOneDoesNot: a Region whose data plane does not
// answer (connection refused, 500) is replaced by the other; a start that
// may have arrived (500) is not sent again.
func TestOtherRegionAnswersWhenOneDoesNot(t *testing.T) {
	f := newFake(2)
	_, url := serve(t, f, 50)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.WriteHeader(500)
		w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.arcregionswitch#InternalServerException"), "message": cbor.String("down")}))
	}))
	defer failing.Close()
	fast := func(o *arcregionswitch.Options) { o.RetryMaxAttempts = 1 }
	client := func(u string) awsops.RegionSwitchAPI { return arcregionswitch.NewFromConfig(sdkConfig(u), fast) }
	ctx := context.Background()

	rs := &awsops.RegionSwitch{Clients: map[string]awsops.RegionSwitchAPI{"us-west-2": client(deadURL), "us-east-1": client(url)}, Regions: cfg.Regions(), Home: "us-west-2"}
	e, err := rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "activate", Mode: "graceful"})
	if err != nil {
		t.Fatalf("start with the target's data plane refusing connections: %v", err)
	}
	if _, err := rs.Get(ctx, planArn, e.ID); err != nil {
		t.Errorf("get: %v", err)
	}

	rs = &awsops.RegionSwitch{Clients: map[string]awsops.RegionSwitchAPI{"us-west-2": client(failing.URL), "us-east-1": client(url)}, Regions: cfg.Regions(), Home: "us-west-2"}
	if _, err := rs.Get(ctx, planArn, e.ID); err != nil {
		t.Errorf("get with a failing Region: %v", err)
	}
	if _, err := rs.Start(ctx, arcexec.StartRequest{PlanArn: planArn, TargetRegion: "us-west-2", Action: "activate", Mode: "graceful"}); err == nil || !strings.Contains(err.Error(), "InternalServerException") {
		t.Errorf("a start answered 500 must not go to the other Region: %v", err)
	}
	if len(f.execs) != 1 {
		t.Errorf("%d executions, want 1", len(f.execs))
	}
}

// Any request body gets an answer, never a panic: 200 for a valid
// request, 4xx for one ARC would refuse.
func FuzzOperations(f *testing.F) {
	for _, s := range [][]byte{{0xa0}, {0xbf, 0xff}, {0xa1, 0x67, 'p', 'l', 'a', 'n', 'A', 'r', 'n', 0x61, 'x'}, {0xff}, nil} {
		f.Add("StartPlanExecution", s)
		f.Add("GetPlanExecution", s)
		f.Add("ApprovePlanExecutionStep", s)
	}
	h := arcapi.New(newFake(3), arcapi.Plan{Name: "payment-dr-dev", Regions: []string{"us-east-1", "us-west-2"}, PrimaryRegion: "us-east-1"})
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.URL.Path = arcapi.PathPrefix + "operation/" + op
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
		req.Header.Set("Content-Type", "application/cbor")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Code; c != http.StatusOK && (c < 400 || c >= 500) {
			t.Fatalf("%s: status %d", op, c)
		}
	})
}
