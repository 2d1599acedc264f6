package awsops

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// dataAPI plays the RDS Data API (REST JSON) over real MariaDB databases:
// each cluster ARN is a database, statements run as sent, with the
// :name parameters bound in order, and records come back as JSON.
type dataAPI struct {
	mu  sync.Mutex
	dbs map[string]*sql.DB
	txs map[string]*sql.Tx
	seq int
}

var paramRe = regexp.MustCompile(`:([a-z]+)`)

type dataParam struct {
	Name  string
	Value struct {
		StringValue *string
		LongValue   *int64
		IsNull      *bool
	}
}

func (d *dataAPI) fail(rw http.ResponseWriter, err error) {
	rw.Header().Set("X-Amzn-ErrorType", "BadRequestException")
	rw.WriteHeader(400)
	json.NewEncoder(rw).Encode(map[string]string{"message": err.Error()})
}

func (d *dataAPI) serve(rw http.ResponseWriter, path string, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var in struct {
		ResourceArn, SQL, TransactionID string
		Parameters                      []dataParam
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(body, &raw)
	json.Unmarshal(raw["resourceArn"], &in.ResourceArn)
	json.Unmarshal(raw["sql"], &in.SQL)
	json.Unmarshal(raw["transactionId"], &in.TransactionID)
	json.Unmarshal(raw["parameters"], &in.Parameters)
	rw.Header().Set("Content-Type", "application/json")
	db, ok := d.dbs[in.ResourceArn]
	if !ok {
		d.fail(rw, fmt.Errorf("no cluster %s (or its HTTP endpoint is disabled)", in.ResourceArn))
		return
	}
	switch path {
	case "/BeginTransaction":
		tx, err := db.Begin()
		if err != nil {
			d.fail(rw, err)
			return
		}
		d.seq++
		id := fmt.Sprintf("tx-%d", d.seq)
		d.txs[id] = tx
		fmt.Fprintf(rw, `{"transactionId":%q}`, id)
	case "/CommitTransaction", "/RollbackTransaction":
		tx := d.txs[in.TransactionID]
		delete(d.txs, in.TransactionID)
		commit := tx.Rollback
		if path == "/CommitTransaction" {
			commit = tx.Commit
		}
		err := commit()
		if err != nil {
			d.fail(rw, err)
			return
		}
		rw.Write([]byte(`{"transactionStatus":"done"}`))
	case "/Execute":
		d.execute(rw, db, in.SQL, in.TransactionID, in.Parameters)
	default:
		d.fail(rw, fmt.Errorf("unknown operation %s", path))
	}
}

func (d *dataAPI) execute(rw http.ResponseWriter, db *sql.DB, stmt, txID string, params []dataParam) {
	byName := map[string]any{}
	for _, p := range params {
		switch {
		case p.Value.StringValue != nil:
			byName[p.Name] = *p.Value.StringValue
		case p.Value.LongValue != nil:
			byName[p.Name] = *p.Value.LongValue
		default:
			byName[p.Name] = nil
		}
	}
	var args []any
	q := paramRe.ReplaceAllStringFunc(stmt, func(m string) string { args = append(args, byName[m[1:]]); return "?" })
	var rows *sql.Rows
	var err error
	if tx := d.txs[txID]; tx != nil {
		rows, err = tx.Query(q, args...)
	} else {
		rows, err = db.Query(q, args...)
	}
	if err != nil {
		d.fail(rw, err)
		return
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		rec := map[string]any{}
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
				if strings.HasSuffix(c, "amount") {
					var n int64
					fmt.Sscan(string(b), &n)
					vals[i] = n
				}
			}
			rec[c] = vals[i]
		}
		out = append(out, rec)
	}
	recs, _ := json.Marshal(out)
	json.NewEncoder(rw).Encode(map[string]any{"formattedRecords": string(recs), "numberOfRecordsUpdated": 0})
}
