package mrsc

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/payment-dr/payment-dr/internal/awslimits"
)

// partitionWrites holds every partition key to DynamoDB's per-partition
// write limit, awslimits.DynamoDBPartitionWrites (1,000 write units a
// second), as a token bucket per table and partition key that holds one
// second's units: a burst of a second's worth passes, then a key gets
// 1,000 units a second. One limiter serves every Region's endpoint: an
// MRSC write is applied to every replica, so a replica's partition pays
// for both Regions' writes. DynamoDB may split a hot partition by sort
// key ("split for heat", developer guide, "Key range throughput exceeded
// (hot partitions)"), but not below one key's limit; the stand-in keeps
// the documented figure per partition key value.
type partitionWrites struct {
	mu      sync.Mutex
	now     func() time.Time
	rate    float64 // units per second, and the bucket's size
	buckets map[string]*bucket
	pruned  time.Time
}

type bucket struct {
	units float64
	at    time.Time
}

func newPartitionWrites(now func() time.Time) *partitionWrites {
	if now == nil {
		now = time.Now
	}
	return &partitionWrites{now: now, rate: float64(awslimits.DynamoDBPartitionWrites.Max), buckets: map[string]*bucket{}}
}

// take spends units of the partition's bucket, or reports that the
// write is throttled (nothing spent).
func (p *partitionWrites) take(partition string, units int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	b := p.buckets[partition]
	if b == nil {
		b = &bucket{units: p.rate, at: now}
		p.buckets[partition] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.units = min(p.rate, b.units+elapsed*p.rate)
	}
	b.at = now
	p.prune(now)
	if b.units < float64(units) {
		return false
	}
	b.units -= float64(units)
	return true
}

// prune forgets the buckets that are full again (idle for a second), so
// the map holds only the partitions written in the last second.
func (p *partitionWrites) prune(now time.Time) {
	if now.Sub(p.pruned) < time.Second {
		return
	}
	p.pruned = now
	for k, b := range p.buckets {
		if now.Sub(b.at) >= time.Second {
			delete(p.buckets, k)
		}
	}
}

// writeUnits is what a write of these items costs (DynamoDB developer
// guide, "DynamoDB read and write operations", capacity unit consumption
// for write operations): the item size rounded up to the next 1 KB, at
// least one unit; for PutItem the larger of the old and the new item,
// for DeleteItem the deleted one.
func writeUnits(items ...item) int {
	size := 0
	for _, it := range items {
		size = max(size, itemSize(it))
	}
	return max(1, (size+1023)/1024)
}

// itemSize is an item's size as DynamoDB counts it (developer guide,
// "Item sizes and formats"): each attribute's name in UTF-8 bytes plus its
// value: a string's UTF-8 bytes, a binary's bytes, a number about one
// byte per two significant digits plus one, a Boolean or null one byte.
// Lists, maps and sets (the journal writes none) count as their JSON.
func itemSize(it item) int {
	n := 0
	for name, v := range it {
		n += len(name)
		for typ, raw := range v {
			n += valueSize(typ, raw)
		}
	}
	return n
}

func valueSize(typ string, raw json.RawMessage) int {
	var str string
	switch typ {
	case "S":
		if json.Unmarshal(raw, &str) == nil {
			return len(str)
		}
	case "B":
		if json.Unmarshal(raw, &str) == nil {
			if b, err := base64.StdEncoding.DecodeString(str); err == nil {
				return len(b)
			}
		}
	case "N":
		if json.Unmarshal(raw, &str) == nil {
			digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(str), "0")
			return (len(digits)+1)/2 + 1
		}
	case "BOOL", "NULL":
		return 1
	}
	return len(raw)
}

// throttled is DynamoDB's answer to a write beyond its partition's
// limit: HTTP 400 ProvisionedThroughputExceededException, "The request
// was denied due to request throttling", with ThrottlingReasons naming
// TableWriteKeyRangeThroughputExceeded (API Reference, PutItem and
// DeleteItem "Errors", ThrottlingReason; developer guide, "Diagnosing
// throttling"). The documents name ThrottlingException as well, with the
// same reasons, without saying which of the two a hot key on an
// on-demand table gets; the SDK's retryer and the journal treat both as
// throttling. The stand-in has no account, so its reason names no
// resource ARN.
func throttled(table, pk string) error {
	return &apiError{status: 400, typ: dynamoPrefix + "ProvisionedThroughputExceededException",
		msg:     "The request was denied due to request throttling: partition key " + pk + " of table " + table + " exceeded its 1,000 write units per second",
		reasons: []map[string]string{{"reason": "TableWriteKeyRangeThroughputExceeded"}}}
}
