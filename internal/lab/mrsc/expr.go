package mrsc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// item is a DynamoDB item in its JSON wire form: attribute name to
// AttributeValue ({"S": ...}, {"B": ...}, {"N": ...}, ...).
type item map[string]map[string]json.RawMessage

// scalar is a key attribute's value as etcd orders it: the UTF-8 bytes of
// an S, the bytes of a B (DynamoDB orders both as unsigned bytes; see
// "Query" > KeyConditionExpression in the DynamoDB API reference).
func scalar(v map[string]json.RawMessage) (string, bool) {
	if s, ok := v["S"]; ok {
		var out string
		return out, json.Unmarshal(s, &out) == nil
	}
	if b, ok := v["B"]; ok {
		var out []byte
		return string(out), json.Unmarshal(b, &out) == nil
	}
	return "", false
}

// equal compares two AttributeValues as DynamoDB does: same type, same
// value, numbers by value.
func equal(a, b map[string]json.RawMessage) bool {
	if len(a) != 1 || len(b) != 1 {
		return false
	}
	for t, av := range a {
		bv, ok := b[t]
		if !ok {
			return false
		}
		if t == "N" {
			var as, bs string
			if json.Unmarshal(av, &as) != nil || json.Unmarshal(bv, &bs) != nil {
				return false
			}
			x, okx := new(big.Float).SetString(as)
			y, oky := new(big.Float).SetString(bs)
			return okx && oky && x.Cmp(y) == 0
		}
		return bytes.Equal(compact(av), compact(bv))
	}
	return false
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// exprContext resolves #names and :values of an expression.
type exprContext struct {
	names  map[string]string
	values item
}

func (x exprContext) name(tok string) (string, error) {
	if strings.HasPrefix(tok, "#") {
		n, ok := x.names[tok]
		if !ok {
			return "", validation("Value provided in ExpressionAttributeNames unused in expressions or undefined: %s", tok)
		}
		return n, nil
	}
	if tok == "" || strings.ContainsAny(tok, ":() ") {
		return "", validation("Invalid attribute name in expression: %q", tok)
	}
	return tok, nil
}

func (x exprContext) value(tok string) (map[string]json.RawMessage, error) {
	v, ok := x.values[tok]
	if !ok {
		return nil, validation("An expression attribute value used in expression is not defined; attribute value: %s", tok)
	}
	return v, nil
}

// condition is a parsed ConditionExpression: clauses joined by AND.
type condition []func(item) bool

// parseCondition parses the forms the journal uses, joined by AND:
// attribute_not_exists(p), attribute_exists(p), p = :v, p <> :v. Other
// forms are refused with a ValidationException naming them.
func parseCondition(expr string, x exprContext) (condition, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	var c condition
	for _, clause := range splitAnd(expr) {
		f, err := parseClause(clause, x)
		if err != nil {
			return nil, err
		}
		c = append(c, f)
	}
	return c, nil
}

func parseClause(clause string, x exprContext) (func(item) bool, error) {
	clause = strings.TrimSpace(clause)
	for fn, want := range map[string]bool{"attribute_exists": true, "attribute_not_exists": false} {
		if arg, ok := call(clause, fn); ok {
			n, err := x.name(arg)
			if err != nil {
				return nil, err
			}
			return func(it item) bool { _, has := it[n]; return has == want }, nil
		}
	}
	for _, op := range []string{"<>", "="} {
		if l, r, ok := strings.Cut(clause, op); ok {
			n, err := x.name(strings.TrimSpace(l))
			if err != nil {
				return nil, err
			}
			v, err := x.value(strings.TrimSpace(r))
			if err != nil {
				return nil, err
			}
			eq := op == "="
			return func(it item) bool { a, has := it[n]; return has && equal(a, v) == eq }, nil
		}
	}
	return nil, validation("the lab's DynamoDB stand-in does not support the condition %q (supported: attribute_exists, attribute_not_exists, =, <>, joined by AND)", clause)
}

func (c condition) holds(it item) bool {
	for _, f := range c {
		if !f(it) {
			return false
		}
	}
	return true
}

// call matches fn(arg) and returns arg.
func call(s, fn string) (string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, fn) {
		return "", false
	}
	rest := strings.TrimSpace(s[len(fn):])
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	return strings.TrimSpace(rest[1 : len(rest)-1]), true
}

// splitAnd splits on the AND keyword (any case), outside BETWEEN's own AND.
func splitAnd(expr string) []string {
	words := strings.Fields(expr)
	var parts []string
	var cur []string
	between := false
	for _, w := range words {
		switch {
		case strings.EqualFold(w, "BETWEEN"):
			between = true
			cur = append(cur, w)
		case strings.EqualFold(w, "AND") && between:
			between = false
			cur = append(cur, w)
		case strings.EqualFold(w, "AND"):
			parts = append(parts, strings.Join(cur, " "))
			cur = nil
		default:
			cur = append(cur, w)
		}
	}
	return append(parts, strings.Join(cur, " "))
}

// keyRange is a parsed KeyConditionExpression: the partition key's value
// and the sort key's inclusive range (from, to; prefix for begins_with).
type keyRange struct {
	hash           string
	from, to       string
	hasFrom, hasTo bool
	prefix         string
}

// parseKeyCondition parses "hk = :v [AND sk = :v | sk BETWEEN :a AND :b |
// begins_with(sk, :p)]" for table t.
func parseKeyCondition(expr string, x exprContext, t Table) (keyRange, error) {
	var kr keyRange
	parts := splitAnd(expr)
	if len(parts) == 0 || len(parts) > 2 {
		return kr, validation("Invalid KeyConditionExpression: %q", expr)
	}
	l, r, ok := strings.Cut(parts[0], "=")
	if n, err := x.name(strings.TrimSpace(l)); !ok || err != nil || n != t.HashKey {
		return kr, validation("Query condition missed key schema element: %s", t.HashKey)
	}
	v, err := x.value(strings.TrimSpace(r))
	if err != nil {
		return kr, err
	}
	if kr.hash, ok = scalar(v); !ok {
		return kr, validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
	}
	if len(parts) == 2 {
		return kr, parseSortCondition(parts[1], x, t, &kr)
	}
	return kr, nil
}

func parseSortCondition(s string, x exprContext, t Table, kr *keyRange) error {
	val := func(tok string) (string, error) {
		v, err := x.value(strings.TrimSpace(tok))
		if err != nil {
			return "", err
		}
		out, ok := scalar(v)
		if !ok {
			return "", validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
		}
		return out, nil
	}
	sortKey := func(tok string) error {
		if n, err := x.name(strings.TrimSpace(tok)); err != nil || n != t.RangeKey {
			return validation("Query key condition not supported: %q is not the sort key %s", tok, t.RangeKey)
		}
		return nil
	}
	if args, ok := call(s, "begins_with"); ok {
		k, p, _ := strings.Cut(args, ",")
		if err := sortKey(k); err != nil {
			return err
		}
		var err error
		kr.prefix, err = val(p)
		return err
	}
	f := strings.Fields(s)
	var err error
	switch {
	case len(f) == 5 && strings.EqualFold(f[1], "BETWEEN") && strings.EqualFold(f[3], "AND"):
		if err = sortKey(f[0]); err == nil {
			if kr.from, err = val(f[2]); err == nil {
				kr.to, err = val(f[4])
			}
		}
		kr.hasFrom, kr.hasTo = true, true
		if err == nil && kr.from > kr.to {
			return validation("Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound")
		}
	case len(f) == 3 && f[1] == "=":
		if err = sortKey(f[0]); err == nil {
			kr.from, err = val(f[2])
			kr.to, kr.hasFrom, kr.hasTo = kr.from, true, true
		}
	default:
		err = validation("the lab's DynamoDB stand-in does not support the key condition %q (supported: =, BETWEEN, begins_with)", s)
	}
	return err
}

// apiError is a DynamoDB error as the JSON 1.0 protocol carries it.
type apiError struct {
	status int
	typ    string // the __type, e.g. com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException
	msg    string
	item   item // ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure ALL_OLD
	// reasons is a throttling exception's ThrottlingReasons.
	reasons []map[string]string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

const dynamoPrefix = "com.amazonaws.dynamodb.v20120810#"

func validation(format string, a ...any) error {
	return &apiError{status: 400, typ: "com.amazon.coral.validate#ValidationException", msg: fmt.Sprintf(format, a...)}
}
