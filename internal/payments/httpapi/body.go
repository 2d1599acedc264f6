package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// ParseCreate turns an HTTP request into a payments.Request, rejecting
// anything that is not exactly the documented body: a JSON object whose
// members are the documented names, spelled exactly (encoding/json alone
// would match "AMOUNT" to amount), each at most once (encoding/json keeps
// the last of duplicates: {"amount":5,"amount":1250} charged 1250), with
// scalar values. Exported for fuzzing.
func ParseCreate(header http.Header, body []byte) (payments.Request, error) {
	if ct := header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return payments.Request{}, &mediaTypeError{ct}
		}
	}
	fields, err := parseObject(body)
	if err != nil {
		return payments.Request{}, invalid("invalid_json", "body must be a JSON object with amount, currency, merchantRef, customerRef: %v", err)
	}
	raw, ok := fields["amount"]
	if !ok || raw == nil {
		return payments.Request{}, invalid("invalid_amount", "amount is required (integer minor units)")
	}
	// The raw JSON number is parsed as an integer: a string, a fraction or
	// an exponent is rejected, and nothing passes through a float.
	num, isNum := raw.(json.Number)
	amount, err := strconv.ParseInt(string(num), 10, 64)
	if !isNum || err != nil {
		return payments.Request{}, invalid("invalid_amount", "amount must be an integer number of minor units, got %s", jsonText(raw))
	}
	req := payments.Request{IdempotencyKey: header.Get("Idempotency-Key"), Amount: amount}
	for name, dst := range map[string]*string{"currency": &req.Currency, "merchantRef": &req.MerchantRef,
		"customerRef": &req.CustomerRef, "sessionId": &req.SessionID} {
		switch v := fields[name].(type) {
		case nil: // absent or null: validation names it if it is required
		case string:
			*dst = v
		default:
			return payments.Request{}, invalid("invalid_json", "%s must be a string, got %s", name, jsonText(v))
		}
	}
	return req, payments.Validate(req)
}

// createFields are the members of the POST /payments body.
var createFields = map[string]bool{"amount": true, "currency": true, "merchantRef": true, "customerRef": true, "sessionId": true}

// parseObject reads one JSON object of scalar members with exact,
// distinct names, and nothing after it. Numbers stay json.Number.
func parseObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	fields := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		switch _, seen := fields[name]; {
		case !createFields[name]:
			return nil, fmt.Errorf("unknown field %q (names are case-sensitive)", name)
		case seen:
			return nil, fmt.Errorf("field %q appears more than once", name)
		}
		v, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if _, isDelim := v.(json.Delim); isDelim {
			return nil, fmt.Errorf("field %q must be a number or a string, not an object or array", name)
		}
		fields[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body has data after the JSON object")
	}
	return fields, nil
}

func invalid(code, format string, args ...any) error {
	return &payments.ValidationError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
