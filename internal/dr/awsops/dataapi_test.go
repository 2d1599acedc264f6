package awsops

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/go-sql-driver/mysql"
)

// dataAPI plays the RDS Data API (REST JSON) of a provisioned Aurora
// MySQL cluster over real MariaDB databases: each cluster ARN is a
// database, statements run as sent with the :name parameters bound in
// order, and records come back as JSON. What the service documents and
// reconcile relies on is reproduced, each with its source:
//   - VARBINARY/BINARY/BLOB columns come back as base64-encoded strings,
//     BIGINT/INT as numbers, DECIMAL and date/time types as strings
//     (Aurora User Guide, "Processing Amazon RDS Data API query results in
//     JSON format", Data type mapping).
//   - blobValue parameters arrive base64-encoded (Data API reference,
//     Field: "blobValue: Base64-encoded binary data object").
//   - an SQL error is DatabaseErrorException ("There was an error in
//     processing the SQL statement"); BadRequestException "only appears in
//     calls from Aurora Serverless v1 databases" (Data API reference,
//     Errors of ExecuteStatement). Its message is the server's, followed
//     by the SQLState (the form Data API users report).
//   - a response over 1 MiB ends the call ("If the binary response data
//     from the database is more than 1 MB, the call is terminated": Data
//     API reference, ExecuteStatement; Aurora User Guide, "Troubleshooting
//     Amazon RDS Data API", Database response exceeded size limit). The
//     double measures the JSON it would send, which is larger than the
//     binary data: it refuses no less than the service does.
type dataAPI struct {
	mu  sync.Mutex
	dbs map[string]*sql.DB
	txs map[string]*sql.Tx
	seq int
	// statements counts ExecuteStatement calls that reached a database.
	statements int
}

// responseLimit is the Data API's limit on the data of one response.
const responseLimit = 1 << 20

var paramRe = regexp.MustCompile(`:([a-z0-9]+)`)

type dataParam struct {
	Name  string
	Value struct {
		StringValue *string
		LongValue   *int64
		BlobValue   *string
		IsNull      *bool
	}
}

func (d *dataAPI) fail(rw http.ResponseWriter, kind string, err error) {
	rw.Header().Set("X-Amzn-ErrorType", kind)
	rw.WriteHeader(400)
	json.NewEncoder(rw).Encode(map[string]string{"message": err.Error()})
}

// sqlFail reports an error of the database as the service does.
func (d *dataAPI) sqlFail(rw http.ResponseWriter, err error) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		err = fmt.Errorf("%s; SQLState: %s", me.Message, me.SQLState[:])
	}
	d.fail(rw, "DatabaseErrorException", err)
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
		d.fail(rw, "HttpEndpointNotEnabledException", fmt.Errorf("HttpEndpoint is not enabled for cluster %s", in.ResourceArn))
		return
	}
	switch path {
	case "/BeginTransaction":
		tx, err := db.Begin()
		if err != nil {
			d.sqlFail(rw, err)
			return
		}
		d.seq++
		id := fmt.Sprintf("tx-%d", d.seq)
		d.txs[id] = tx
		fmt.Fprintf(rw, `{"transactionId":%q}`, id)
	case "/CommitTransaction", "/RollbackTransaction":
		tx := d.txs[in.TransactionID]
		if tx == nil {
			d.fail(rw, "TransactionNotFoundException", fmt.Errorf("Transaction %s is not found", in.TransactionID))
			return
		}
		delete(d.txs, in.TransactionID)
		commit := tx.Rollback
		if path == "/CommitTransaction" {
			commit = tx.Commit
		}
		if err := commit(); err != nil {
			d.sqlFail(rw, err)
			return
		}
		rw.Write([]byte(`{"transactionStatus":"done"}`))
	case "/Execute":
		d.statements++
		d.execute(rw, db, in.SQL, in.TransactionID, in.Parameters)
	default:
		d.fail(rw, "BadRequestException", fmt.Errorf("unknown operation %s", path))
	}
}

// expire rolls back the transactions still open, as the service does
// after three minutes without a call ("Troubleshooting Amazon RDS Data
// API", Transaction <ID> isn't found).
func (d *dataAPI) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, tx := range d.txs {
		tx.Rollback()
		delete(d.txs, id)
	}
}

func (p dataParam) value() (any, error) {
	v := p.Value
	switch {
	case v.StringValue != nil:
		return *v.StringValue, nil
	case v.LongValue != nil:
		return *v.LongValue, nil
	case v.BlobValue != nil:
		return base64.StdEncoding.DecodeString(*v.BlobValue)
	}
	return nil, nil
}

func (d *dataAPI) execute(rw http.ResponseWriter, db *sql.DB, stmt, txID string, params []dataParam) {
	byName := map[string]any{}
	for _, p := range params {
		v, err := p.value()
		if err != nil {
			d.fail(rw, "BadRequestException", fmt.Errorf("parameter %s: %w", p.Name, err))
			return
		}
		byName[p.Name] = v
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
		d.sqlFail(rw, err)
		return
	}
	defer rows.Close()
	out, err := jsonRecords(rows)
	if err != nil {
		d.sqlFail(rw, err)
		return
	}
	recs, _ := json.Marshal(out)
	if len(recs) > responseLimit {
		d.fail(rw, "DatabaseErrorException", errors.New("Database response exceeded size limit"))
		return
	}
	json.NewEncoder(rw).Encode(map[string]any{"formattedRecords": string(recs), "numberOfRecordsUpdated": 0})
}

// jsonRecords maps each row to a JSON object by column label, with the
// Data API's JSON type mapping.
func jsonRecords(rows *sql.Rows) ([]map[string]any, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		rec := map[string]any{}
		for i, ct := range types {
			rec[ct.Name()] = jsonValue(ct.DatabaseTypeName(), vals[i])
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func jsonValue(dbType string, v any) any {
	b, ok := v.([]byte)
	if !ok {
		return v // NULL, or a number the driver already decoded
	}
	switch dbType {
	case "VARBINARY", "BINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB":
		return base64.StdEncoding.EncodeToString(b)
	case "BIGINT", "INT", "MEDIUMINT", "SMALLINT", "TINYINT", "UNSIGNED BIGINT", "UNSIGNED INT":
		var n json.Number = json.Number(string(b))
		return n
	}
	return string(b)
}
