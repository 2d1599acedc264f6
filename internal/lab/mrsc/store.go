package mrsc

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Table is a table's key schema (string or binary keys).
type Table struct {
	Name     string
	HashKey  string
	RangeKey string // "" when the table has none
}

// stored is an item as kept in etcd, with the Region whose endpoint wrote it.
type stored struct {
	Region string `json:"region"`
	Item   item   `json:"item"`
}

// store is one Region's view of the tables: its etcd client talks to its
// own member only, as a Region's DynamoDB endpoint serves its replica.
type store struct {
	region  string
	cli     clientv3.KV
	tables  map[string]Table
	timeout time.Duration
	// partitions holds the partition keys to DynamoDB's write limit,
	// shared by every Region's endpoint.
	partitions *partitionWrites
}

// etcdKey orders a table's items by partition key, then by sort key bytes
// (the lengths keep one partition's keys from running into another's).
func etcdKey(table, hash, rng string) string {
	return partitionPrefix(table, hash) + rng
}

func partitionPrefix(table, hash string) string {
	return "t/" + strconv.Itoa(len(table)) + ":" + table + "/" + strconv.Itoa(len(hash)) + ":" + hash + "/"
}

// keyOf extracts and checks an item's or a Key's key attributes.
func keyOf(t Table, it item, whole bool) (string, error) {
	hv, ok := it[t.HashKey]
	h, okh := scalar(hv)
	if !ok || !okh {
		return "", validation("One or more parameter values were invalid: Missing the key %s in the item", t.HashKey)
	}
	r := ""
	if t.RangeKey != "" {
		rv, ok := it[t.RangeKey]
		var okr bool
		if r, okr = scalar(rv); !ok || !okr {
			return "", validation("One or more parameter values were invalid: Missing the key %s in the item", t.RangeKey)
		}
	}
	if !whole && len(it) != map[bool]int{true: 1, false: 2}[t.RangeKey == ""] {
		return "", validation("The provided key element does not match the schema")
	}
	return etcdKey(t.Name, h, r), nil
}

// unavailable is how a Region without a majority answers: its write or
// strongly consistent read could not complete within the timeout.
func unavailable(err error) error {
	return &apiError{status: 500, typ: dynamoPrefix + "InternalServerError", msg: "Internal server error (the Region's replica could not reach a majority: " + err.Error() + ")"}
}

func conflictErr() error {
	return &apiError{status: 400, typ: dynamoPrefix + "ReplicatedWriteConflictException",
		msg: "One or more items in this request are being modified by a request in another Region."}
}

func conditionFailed(old item, withItem bool) error {
	e := &apiError{status: 400, typ: dynamoPrefix + "ConditionalCheckFailedException", msg: "The conditional request failed"}
	if withItem {
		e.item = old
	}
	return e
}

func decode(kv []byte) (stored, error) {
	var s stored
	err := json.Unmarshal(kv, &s)
	return s, err
}

// get reads one item; consistent is a linearizable read (needs a
// majority), otherwise the local member's copy.
func (s *store) get(ctx context.Context, key string, consistent bool) (item, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var opts []clientv3.OpOption
	if !consistent {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil {
		return nil, unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	st, err := decode(resp.Kvs[0].Value)
	return st.Item, err
}

// write puts (put != nil) or deletes key under cond.
//
// The conflict rule: a write is based on this Region's replica as it
// stands (a local read, no network), and commits with an etcd transaction
// that requires the item to be unchanged since (compare mod revision;
// create revision 0 when it was absent, for attribute_not_exists). If it
// changed, another request wrote it meanwhile: written through another
// Region's endpoint, it is a ReplicatedWriteConflictException (MRSC's
// answer to concurrent writes to one item from two Regions, retryable);
// written through this Region's own endpoint, the write is evaluated again
// on the new state, as single-Region DynamoDB serialises them.
//
// charge is called once, with the item as this Region's replica holds it,
// before the write is committed: its error (throttling) refuses the write.
func (s *store) write(ctx context.Context, key string, put item, cond condition, charge func(old item) error) (old item, err error) {
	for range 5 {
		old, changed, err := s.tryWrite(ctx, key, put, cond, charge)
		charge = nil
		if err != nil || changed == nil {
			return old, err
		}
		if changed.Region != s.region && changed.Region != "" {
			return nil, conflictErr()
		}
	}
	return nil, conflictErr()
}

// tryWrite makes one attempt; changed is what the item became when it
// changed under the attempt (Region "" when it was deleted).
func (s *store) tryWrite(ctx context.Context, key string, put item, cond condition, charge func(item) error) (item, *stored, error) {
	local, err := s.cli.Get(ctx, key, clientv3.WithSerializable())
	if err != nil {
		return nil, nil, unavailable(err)
	}
	var base stored
	cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	if len(local.Kvs) == 1 {
		if base, err = decode(local.Kvs[0].Value); err != nil {
			return nil, nil, fmt.Errorf("item %q: %w", key, err)
		}
		cmp = clientv3.Compare(clientv3.ModRevision(key), "=", local.Kvs[0].ModRevision)
	}
	if charge != nil {
		if err := charge(base.Item); err != nil {
			return nil, nil, err
		}
	}
	var then []clientv3.Op
	holds := cond.holds(base.Item)
	switch {
	case !holds: // confirm on the majority's state before refusing
	case put != nil:
		v, err := json.Marshal(stored{Region: s.region, Item: put})
		if err != nil {
			return nil, nil, err
		}
		then = append(then, clientv3.OpPut(key, string(v)))
	default:
		then = append(then, clientv3.OpDelete(key))
	}
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Txn(tctx).If(cmp).Then(then...).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if resp.Succeeded {
		if !holds {
			return nil, nil, conditionFailed(base.Item, true)
		}
		return base.Item, nil, nil
	}
	changed := &stored{}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		if *changed, err = decode(kvs[0].Value); err != nil {
			return nil, nil, err
		}
	}
	return nil, changed, nil
}

// query reads up to limit items of one partition in sort key order,
// starting after exclusiveStart ("" for the first page).
func (s *store) query(ctx context.Context, t Table, kr keyRange, exclusiveStart string, limit int64, forward, consistent bool) ([]item, bool, error) {
	prefix := partitionPrefix(t.Name, kr.hash)
	lo, hi := prefix, clientv3.GetPrefixRangeEnd(prefix)
	switch {
	case kr.prefix != "":
		lo, hi = prefix+kr.prefix, clientv3.GetPrefixRangeEnd(prefix+kr.prefix)
	case kr.hasFrom:
		lo, hi = prefix+kr.from, prefix+kr.to+"\x00"
	}
	if exclusiveStart != "" {
		if forward && exclusiveStart+"\x00" > lo {
			lo = exclusiveStart + "\x00"
		} else if !forward && exclusiveStart < hi {
			hi = exclusiveStart
		}
	}
	if lo >= hi {
		return nil, false, nil
	}
	opts := []clientv3.OpOption{clientv3.WithRange(hi)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit))
	}
	if !forward {
		opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	}
	if !consistent {
		opts = append(opts, clientv3.WithSerializable())
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, lo, opts...)
	if err != nil {
		return nil, false, unavailable(err)
	}
	var items []item
	for _, kv := range resp.Kvs {
		st, err := decode(kv.Value)
		if err != nil {
			return nil, false, err
		}
		items = append(items, st.Item)
	}
	// DynamoDB stops at Limit and returns LastEvaluatedKey, whether or not
	// more items follow ("Query" > Limit in the DynamoDB API reference).
	return items, limit > 0 && int64(len(items)) == limit, nil
}

func (s *store) table(name string) (Table, error) {
	t, ok := s.tables[name]
	if !ok {
		return t, &apiError{status: 400, typ: dynamoPrefix + "ResourceNotFoundException", msg: "Requested resource not found: Table: " + name + " not found"}
	}
	return t, nil
}
