package mrsc

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
)

// Endpoint is region's DynamoDB endpoint for tables: the JSON 1.0
// protocol ("X-Amz-Target: DynamoDB_20120810.<Op>", content type
// application/x-amz-json-1.0, errors as {"__type", "message"}), answering
// PutItem, GetItem, DeleteItem and Query.
func (c *Cluster) Endpoint(region string, tables ...Table) (http.Handler, error) {
	cli, ok := c.clients[region]
	if !ok {
		return nil, fmt.Errorf("mrsc: %q is not a Region of the table (%v)", region, c.opt.Regions)
	}
	s := &store{region: region, cli: cli, tables: map[string]Table{}, timeout: c.opt.OpTimeout, partitions: c.partitions}
	for _, t := range tables {
		s.tables[t.Name] = t
	}
	return &endpoint{s: s}, nil
}

type endpoint struct{ s *store }

const targetPrefix = "DynamoDB_20120810."

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", requestID())
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeErr(w, &apiError{status: 400, typ: "com.amazon.coral.service#UnknownOperationException", msg: "missing or unknown X-Amz-Target"})
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, &apiError{status: 400, typ: "com.amazon.coral.service#SerializationException", msg: err.Error()})
		return
	}
	var out any
	var err error
	switch op {
	case "PutItem":
		out, err = e.putItem(r, req)
	case "GetItem":
		out, err = e.getItem(r, req)
	case "DeleteItem":
		out, err = e.deleteItem(r, req)
	case "Query":
		out, err = e.query(r, req)
	default:
		err = &apiError{status: 400, typ: "com.amazon.coral.service#UnknownOperationException", msg: "the lab's DynamoDB stand-in does not answer " + op}
	}
	if err != nil {
		if ce := (*apiError)(nil); errors.As(err, &ce) && ce.item != nil && req.ReturnValuesOnConditionCheckFailure != "ALL_OLD" {
			ce.item = nil
		}
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// writeJSON answers body with DynamoDB's X-Amz-Crc32 header, the CRC32 of
// the body, which the SDK's DynamoDB client checks on every answer.
func writeJSON(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// request holds the fields of the four operations.
type request struct {
	TableName                           string
	Item                                item
	Key                                 item
	ConditionExpression                 string
	KeyConditionExpression              string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           item
	ConsistentRead                      bool
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	Limit                               int64
	ExclusiveStartKey                   item
	ScanIndexForward                    *bool
	FilterExpression                    string
	ProjectionExpression                string
	Select                              string
	IndexName                           string
}

func (req request) exprs() exprContext {
	return exprContext{names: req.ExpressionAttributeNames, values: req.ExpressionAttributeValues}
}

func (req request) unsupported() error {
	for name, v := range map[string]string{"FilterExpression": req.FilterExpression, "ProjectionExpression": req.ProjectionExpression,
		"Select": req.Select, "IndexName": req.IndexName} {
		if v != "" {
			return validation("the lab's DynamoDB stand-in does not support %s (the journal's table has no index and reads whole items)", name)
		}
	}
	return nil
}

func (e *endpoint) putItem(r *http.Request, req request) (any, error) {
	return e.writeItem(r, req, req.Item, req.Item, true)
}

func (e *endpoint) deleteItem(r *http.Request, req request) (any, error) {
	return e.writeItem(r, req, req.Key, nil, false)
}

// writeItem puts put (nil: deletes) at keyed's key under the request's
// condition; whole says keyed is an item rather than a Key.
func (e *endpoint) writeItem(r *http.Request, req request, keyed, put item, whole bool) (any, error) {
	t, err := e.s.table(req.TableName)
	if err != nil {
		return nil, err
	}
	key, err := keyOf(t, keyed, whole)
	if err != nil {
		return nil, err
	}
	cond, err := parseCondition(req.ConditionExpression, req.exprs())
	if err != nil {
		return nil, err
	}
	pk, _ := scalar(keyed[t.HashKey])
	charge := func(old item) error {
		if !e.s.partitions.take(t.Name+"/"+pk, writeUnits(old, put)) {
			return throttled(t.Name, pk)
		}
		return nil
	}
	old, err := e.s.write(r.Context(), key, put, cond, charge)
	return attributes(old, req.ReturnValues), err
}

// attributes is a write's answer: the old item when ReturnValues is
// ALL_OLD and there was one.
func attributes(old item, returnValues string) map[string]any {
	out := map[string]any{}
	if returnValues == "ALL_OLD" && old != nil {
		out["Attributes"] = old
	}
	return out
}

func (e *endpoint) getItem(r *http.Request, req request) (any, error) {
	t, err := e.s.table(req.TableName)
	if err != nil {
		return nil, err
	}
	key, err := keyOf(t, req.Key, false)
	if err != nil {
		return nil, err
	}
	it, err := e.s.get(r.Context(), key, req.ConsistentRead)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if it != nil {
		out["Item"] = it
	}
	return out, nil
}

func (e *endpoint) query(r *http.Request, req request) (any, error) {
	t, err := e.s.table(req.TableName)
	if err != nil {
		return nil, err
	}
	if err := req.unsupported(); err != nil {
		return nil, err
	}
	if req.Limit < 0 {
		return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", req.Limit)
	}
	kr, err := parseKeyCondition(req.KeyConditionExpression, req.exprs(), t)
	if err != nil {
		return nil, err
	}
	start := ""
	if req.ExclusiveStartKey != nil {
		if start, err = keyOf(t, req.ExclusiveStartKey, false); err != nil {
			return nil, err
		}
	}
	forward := req.ScanIndexForward == nil || *req.ScanIndexForward
	items, more, err := e.s.query(r.Context(), t, kr, start, req.Limit, forward, req.ConsistentRead)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []item{}
	}
	out := map[string]any{"Items": items, "Count": len(items), "ScannedCount": len(items)}
	if more {
		last := items[len(items)-1]
		lek := item{t.HashKey: last[t.HashKey]}
		if t.RangeKey != "" {
			lek[t.RangeKey] = last[t.RangeKey]
		}
		out["LastEvaluatedKey"] = lek
	}
	return out, nil
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: 500, typ: dynamoPrefix + "InternalServerError", msg: err.Error()}
	}
	body := map[string]any{"__type": ae.typ, "message": ae.msg}
	if ae.item != nil {
		body["Item"] = ae.item
	}
	if ae.reasons != nil {
		body["ThrottlingReasons"] = ae.reasons
	}
	writeJSON(w, ae.status, body)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
