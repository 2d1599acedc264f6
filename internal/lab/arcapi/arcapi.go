// Package arcapi serves ARC Region switch's execution operations
// (ListPlansInRegion, StartPlanExecution, GetPlanExecution,
// ListPlanExecutions, ApprovePlanExecutionStep, CancelPlanExecution) in
// ARC's wire protocol, Smithy RPC v2 CBOR, on top of any arcexec.Service:
// the lab daemon mounts it so that drctl's real SDK client (awsops)
// drives the lab's engine exactly as it drives ARC.
//
// Protocol (Smithy "rpcv2Cbor" protocol specification): POST
// /service/ArcRegionSwitch/operation/<Operation>, a CBOR map body,
// request header Smithy-Protocol: rpc-v2-cbor; responses carry the same
// header and Content-Type application/cbor; timestamps are CBOR tag 1
// (epoch seconds); an error is a CBOR map of "__type" (the error's shape
// ID) and "message", with the error's HTTP status.
package arcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/payment-dr/payment-dr/internal/dr/arcexec"
)

// PathPrefix is where the daemon mounts the handler.
const PathPrefix = "/service/ArcRegionSwitch/"

const opPrefix = PathPrefix + "operation/"

// maxBody bounds a request body: the largest request here is a few
// strings of at most 1024 bytes.
const maxBody = 64 << 10

// Plan is a plan ListPlansInRegion lists: arcexec.Service finds a plan
// by name but cannot list them, so the daemon names its plans.
type Plan struct {
	Name          string
	Regions       []string
	PrimaryRegion string
}

// Handler serves the operations.
type Handler struct {
	Svc   arcexec.Service
	Plans []Plan
	// PageSize is the default page of step states and executions when a
	// request gives no maxResults.
	PageSize int
}

// New returns the handler for svc, listing plans in ListPlansInRegion.
func New(svc arcexec.Service, plans ...Plan) *Handler {
	return &Handler{Svc: svc, Plans: plans, PageSize: 50}
}

// apiError is an error response: its shape name, HTTP status and message.
type apiError struct {
	Type    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// ARC's errors and their HTTP statuses. AccessDeniedException 403 and
// ResourceNotFoundException 404 are as the ARC API Reference lists them
// (e.g. ApprovePlanExecutionStep, Errors); the Reference pages stored here
// give no status for IllegalArgumentException and IllegalStateException,
// so they answer 400, the status of a client fault in this protocol.
func badRequest(format string, args ...any) *apiError {
	return &apiError{"IllegalArgumentException", http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// serviceError maps the service's errors to ARC's.
func serviceError(err error) *apiError {
	switch {
	case errors.Is(err, arcexec.ErrNotFound):
		return &apiError{"ResourceNotFoundException", http.StatusNotFound, err.Error()}
	case errors.Is(err, arcexec.ErrConflict):
		return &apiError{"IllegalStateException", http.StatusBadRequest, err.Error()}
	}
	return &apiError{"InternalServerException", http.StatusInternalServerError, err.Error()}
}

type operation func(h *Handler, ctx context.Context, in cbor.Map) (cbor.Map, error)

var operations = map[string]operation{
	"ListPlansInRegion":        (*Handler).listPlans,
	"StartPlanExecution":       (*Handler).start,
	"GetPlanExecution":         (*Handler).get,
	"ListPlanExecutions":       (*Handler).list,
	"ApprovePlanExecutionStep": (*Handler).approve,
	"CancelPlanExecution":      (*Handler).cancel,
}

// ServeHTTP routes POST /service/ArcRegionSwitch/operation/<Op>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, opPrefix)
	op := operations[name]
	if !ok || op == nil {
		writeError(w, &apiError{"UnknownOperationException", http.StatusNotFound, fmt.Sprintf("no operation at %s (serving %s)", r.URL.Path, opNames())})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &apiError{"UnknownOperationException", http.StatusMethodNotAllowed, r.Method + " " + r.URL.Path + ": operations take POST"})
		return
	}
	if p := r.Header.Get("Smithy-Protocol"); p != "rpc-v2-cbor" {
		writeError(w, badRequest("header Smithy-Protocol is %q, want rpc-v2-cbor", p))
		return
	}
	in, aerr := readBody(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	out, err := op(h, r.Context(), in)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = serviceError(err)
		}
		writeError(w, ae)
		return
	}
	write(w, http.StatusOK, out)
}

func opNames() string {
	return "ListPlansInRegion, StartPlanExecution, GetPlanExecution, ListPlanExecutions, ApprovePlanExecutionStep, CancelPlanExecution"
}

// readBody decodes the request's CBOR map (an empty body is an empty
// input, as the protocol allows for an operation without input members).
func readBody(r *http.Request) (cbor.Map, *apiError) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/cbor" {
		return nil, badRequest("Content-Type %q, want application/cbor", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("reading the request: %v", err)
	}
	if len(body) > maxBody {
		return nil, badRequest("request body over %d bytes", maxBody)
	}
	if len(body) == 0 {
		return cbor.Map{}, nil
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, badRequest("request body is not CBOR: %v", err)
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, badRequest("request body is a CBOR %T, want a map", v)
	}
	return m, nil
}

func write(w http.ResponseWriter, status int, body cbor.Map) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	w.Write(cbor.Encode(body))
}

// writeError writes e as the protocol's error body: __type is the shape ID
// (the SDK matches the part after '#').
func writeError(w http.ResponseWriter, e *apiError) {
	write(w, e.Status, cbor.Map{"__type": cbor.String("com.amazonaws.arcregionswitch#" + e.Type), "message": cbor.String(e.Message)})
}

// planArnRe is the planArn pattern of the ARC API Reference (e.g.
// StartPlanExecution, Request Parameters).
var planArnRe = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:arc-region-switch::[0-9]{12}:plan/([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?):([a-z0-9]{6})$`)

// regionRe is an AWS Region name.
var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// maxComment is a comment's length limit (ARC API Reference,
// StartPlanExecution.comment: 0 to 1024).
const maxComment = 1024
