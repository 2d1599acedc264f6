package backends

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// AWSLatency is the time DynamoDB on AWS spends on a call that a local
// stand-in answers at once: on a multi-Region strongly consistent (MRSC)
// table, a write "is synchronously replicated to at least one other
// Region before it returns" and a strongly consistent read returns "the
// latest version of an item irrespective of the Region where it was
// written" (DynamoDB developer guide, "How DynamoDB global tables work",
// consistency modes), so both cost a round trip to the nearest other
// member of the table's Region set; an eventually consistent read is
// served by the local replica.
type AWSLatency struct {
	Write          time.Duration // PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems
	ConsistentRead time.Duration // GetItem, Query, Scan, BatchGetItem with ConsistentRead true
	Read           time.Duration // the same reads, eventually consistent
}

// Journal write round trips from the project's default Regions
// (docs/journal.md, "What it costs"): us-east-1's nearest member is
// us-east-2 (about 12 ms), us-west-2's is us-east-2 too (about 50 ms).
var (
	LatencyUSEast1 = AWSLatency{Write: 12 * time.Millisecond, ConsistentRead: 12 * time.Millisecond}
	LatencyUSWest2 = AWSLatency{Write: 50 * time.Millisecond, ConsistentRead: 50 * time.Millisecond}
)

// ParseAWSLatency reads "12ms" (writes and consistent reads alike) or
// "write=12ms,consistent-read=12ms,read=1ms".
func ParseAWSLatency(s string) (AWSLatency, error) {
	var l AWSLatency
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return l, fmt.Errorf("latency %q: must not be negative", s)
		}
		return AWSLatency{Write: d, ConsistentRead: d}, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		d, err := time.ParseDuration(val)
		if !ok || err != nil || d < 0 {
			return AWSLatency{}, fmt.Errorf("latency %q: want a duration (12ms) or write=D,consistent-read=D,read=D with non-negative durations", s)
		}
		switch name {
		case "write":
			l.Write = d
		case "consistent-read":
			l.ConsistentRead = d
		case "read":
			l.Read = d
		default:
			return AWSLatency{}, fmt.Errorf("latency %q: unknown part %q (want write, consistent-read or read)", s, name)
		}
	}
	return l, nil
}

// Zero reports whether l adds nothing.
func (l AWSLatency) Zero() bool { return l == AWSLatency{} }

// Of is the latency of one DynamoDB JSON-protocol request: its operation
// from the X-Amz-Target header, its consistency from the body.
func (l AWSLatency) Of(target string, body []byte) time.Duration {
	op := target[strings.LastIndex(target, ".")+1:]
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems":
		return l.Write
	case "GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems":
		if op == "TransactGetItems" || consistent(body) {
			return l.ConsistentRead
		}
		return l.Read
	}
	return 0 // control-plane calls (CreateTable, DescribeTable, ...)
}

// consistent reports whether a read asks for a strongly consistent
// result: ConsistentRead at the top (GetItem, Query, Scan) or in any
// table of a BatchGetItem.
func consistent(body []byte) bool {
	var req struct {
		ConsistentRead bool
		RequestItems   map[string]struct{ ConsistentRead bool }
	}
	if json.Unmarshal(body, &req) != nil {
		return false
	}
	for _, t := range req.RequestItems {
		if t.ConsistentRead {
			return true
		}
	}
	return req.ConsistentRead
}

// Handler delays each request by its latency before next serves it. The
// delay comes before the request is applied, so a client that gives up
// meanwhile (an SDK attempt timeout) still finds its effect applied, as
// on AWS, where a timed-out write may have been applied.
func (l AWSLatency) Handler(next http.Handler) http.Handler {
	if l.Zero() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if d := l.Of(r.Header.Get("X-Amz-Target"), body); d > 0 {
			time.Sleep(d)
		}
		next.ServeHTTP(w, r)
	})
}
