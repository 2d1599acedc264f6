package acks

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRejectsTruncatedAndInvalidLines(t *testing.T) {
	good := `{"key":"k1","paymentId":"0123456789abcdef0123456789abcdef","amount":5,"currency":"USD","region":"us-east-1","status":201,"attempts":1,"at":"2026-01-01T00:00:00Z"}`
	if a, err := Parse(strings.NewReader(good + "\n\n")); err != nil || len(a) != 1 || a[0].Key != "k1" {
		t.Fatalf("good file: %v %v", a, err)
	}
	for name, in := range map[string]string{
		"truncated":   good + "\n" + good[:40],
		"no newline":  good,
		"bad status":  strings.Replace(good, "201", "503", 1) + "\n",
		"unknown key": strings.Replace(good, `"key"`, `"kee"`, 1) + "\n",
		"two objects": good + good + "\n",
		"short id":    strings.Replace(good, "0123456789abcdef0123456789abcdef", "abc", 1) + "\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseLostFormats(t *testing.T) {
	for name, in := range map[string]string{
		"report": `{"from":"us-east-1","scanned":3,"items":[{"idempotencyKey":"a","outcome":"missing"},{"idempotencyKey":"b"}]}`,
		"jsonl":  "{\"key\":\"a\"}\n{\"idempotencyKey\":\"b\"}\n",
		"text":   "a\nb\n",
	} {
		k, err := ParseLost([]byte(in))
		if err != nil || len(k) != 2 || !k["a"] || !k["b"] {
			t.Errorf("%s: %v %v", name, k, err)
		}
	}
	if _, err := ParseLost([]byte("a b\n")); err == nil {
		t.Error("a key with a space was accepted")
	}
}

func FuzzParse(f *testing.F) {
	a := Ack{Key: "k", PaymentID: strings.Repeat("a", 32), Amount: 1, Currency: "EUR", Status: 200, At: time.Unix(1, 0).UTC()}
	b, _ := json.Marshal(a)
	f.Add(append(b, '\n'))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, a := range got {
			if a.Validate() != nil {
				t.Fatalf("invalid ack accepted: %+v", a)
			}
		}
	})
}

func FuzzParseLost(f *testing.F) {
	f.Add([]byte(`{"items":[{"idempotencyKey":"a"}]}`))
	f.Add([]byte("a\n{\"key\":\"b\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseLost(data)
		if err != nil {
			return
		}
		for k := range keys {
			if checkKey(k) != nil {
				t.Fatalf("invalid key accepted: %q", k)
			}
		}
	})
}
