package awsops

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	rdsdatatypes "github.com/aws/aws-sdk-go-v2/service/rdsdata/types"

	"github.com/payment-dr/payment-dr/internal/dr/reconcile"
	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// DataSQL is a reconcile Source and Target over the RDS Data API, running
// the payment tables' own SQL (mysqlstore) with its ? placeholders bound
// as :pN parameters.
type DataSQL struct {
	Client                    DataAPI
	Cluster, Secret, Database string
}

// dateTime is how MySQL DATETIME(6) values travel through the Data API
// (strings both ways, TIMESTAMP type hint on the way in).
const dateTime = "2006-01-02 15:04:05.999999"

// exec runs one statement. A statement inside a transaction is sent once:
// if its answer is lost, the SDK must not send it again (a repeated INSERT
// would fail on its own first copy and read as a taken key); the
// transaction is rolled back instead. Reads outside one may be retried.
func (d *DataSQL) exec(ctx context.Context, tx, sql string, args ...any) (*rdsdata.ExecuteStatementOutput, error) {
	in := &rdsdata.ExecuteStatementInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), Database: aws.String(d.Database),
		FormatRecordsAs: rdsdatatypes.RecordsFormatTypeJson}
	var err error
	if in.Sql, in.Parameters, err = bind(sql, args); err != nil {
		return nil, err
	}
	if tx == "" {
		return d.Client.ExecuteStatement(ctx, in)
	}
	in.TransactionId = aws.String(tx)
	return d.Client.ExecuteStatement(ctx, in, sendOnce)
}

// bind turns the ? placeholders of sql into :p1, :p2, ... with typed
// parameters (the statements are mysqlstore's constants: no ? inside a
// literal).
func bind(sql string, args []any) (*string, []rdsdatatypes.SqlParameter, error) {
	var b strings.Builder
	var params []rdsdatatypes.SqlParameter
	n := 0
	for _, c := range sql {
		if c != '?' {
			b.WriteRune(c)
			continue
		}
		if n >= len(args) {
			return nil, nil, fmt.Errorf("statement has more placeholders than its %d arguments", len(args))
		}
		name := "p" + strconv.Itoa(n+1)
		b.WriteString(":" + name)
		p, err := param(name, args[n])
		if err != nil {
			return nil, nil, err
		}
		params = append(params, p)
		n++
	}
	if n != len(args) {
		return nil, nil, fmt.Errorf("statement has %d placeholders for %d arguments", n, len(args))
	}
	return aws.String(b.String()), params, nil
}

func param(name string, v any) (rdsdatatypes.SqlParameter, error) {
	p := rdsdatatypes.SqlParameter{Name: aws.String(name)}
	switch v := v.(type) {
	case nil:
		p.Value = &rdsdatatypes.FieldMemberIsNull{Value: true}
	case string:
		p.Value = &rdsdatatypes.FieldMemberStringValue{Value: v}
	case []byte: // VARBINARY: sent as bytes, so any key arrives exactly
		p.Value = &rdsdatatypes.FieldMemberBlobValue{Value: v}
	case int64:
		p.Value = &rdsdatatypes.FieldMemberLongValue{Value: v}
	case time.Time:
		p.TypeHint, p.Value = rdsdatatypes.TypeHintTimestamp, &rdsdatatypes.FieldMemberStringValue{Value: v.UTC().Format(dateTime)}
	default:
		return p, fmt.Errorf("parameter %s: no Data API type for %T", name, v)
	}
	return p, nil
}

// records decodes FormattedRecords (JSON objects by column name).
func records[T any](out *rdsdata.ExecuteStatementOutput) ([]T, error) {
	var rs []T
	if out.FormattedRecords == nil {
		return rs, nil
	}
	err := json.Unmarshal([]byte(*out.FormattedRecords), &rs)
	return rs, err
}

// binary is a VARBINARY column in formatted records: the Data API sends
// BLOB, BINARY and VARBINARY values as base64-encoded strings (Aurora
// User Guide, "Processing Amazon RDS Data API query results in JSON
// format").
type binary string

func (b *binary) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("a VARBINARY value that is not base64: %w", err)
	}
	*b = binary(raw)
	return nil
}

type paymentRecord struct {
	ID            string  `json:"id"`
	Key           binary  `json:"idempotency_key"`
	RequestHash   string  `json:"request_hash"`
	Amount        int64   `json:"amount"`
	Currency      string  `json:"currency"`
	MerchantRef   string  `json:"merchant_ref"`
	CustomerRef   string  `json:"customer_ref"`
	SessionID     string  `json:"session_id"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	Region        string  `json:"region"`
	CreatedAt     string  `json:"created_at"`
}

type ledgerRecord struct {
	PaymentID string `json:"payment_id"`
	Account   string `json:"account"`
	Direction string `json:"direction"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	CreatedAt string `json:"created_at"`
}

func parseTime(s string) (time.Time, error) { return time.ParseInLocation(dateTime, s, time.UTC) }

// Newest implements reconcile.Source.
func (d *DataSQL) Newest(ctx context.Context) (time.Time, error) {
	out, err := d.exec(ctx, "", mysqlstore.NewestPayment)
	if err != nil {
		return time.Time{}, err
	}
	rs, err := records[struct {
		Newest *string `json:"newest"`
	}](out)
	if err != nil || len(rs) == 0 || rs[0].Newest == nil {
		return time.Time{}, err
	}
	return parseTime(*rs[0].Newest)
}

// Page implements reconcile.Source.
func (d *DataSQL) Page(ctx context.Context, after reconcile.Cursor, limit int) ([]mysqlstore.Row, error) {
	out, err := d.exec(ctx, "", mysqlstore.PageAfter(limit), after.CreatedAt, after.CreatedAt, after.ID)
	if err != nil {
		return nil, err
	}
	recs, err := records[paymentRecord](out)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	page := make([]mysqlstore.Row, 0, len(recs))
	ids := make([]any, 0, len(recs))
	for _, r := range recs {
		at, err := parseTime(r.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("payment %s: created_at %q: %w", r.ID, r.CreatedAt, err)
		}
		page = append(page, mysqlstore.Row{RequestHash: r.RequestHash, Payment: payments.Payment{ID: r.ID, IdempotencyKey: string(r.Key),
			Amount: r.Amount, Currency: r.Currency, MerchantRef: r.MerchantRef, CustomerRef: r.CustomerRef, SessionID: r.SessionID,
			Status: r.Status, FailureReason: aws.ToString(r.FailureReason), Region: r.Region, CreatedAt: at}})
		ids = append(ids, r.ID)
	}
	return page, d.ledger(ctx, page, ids)
}

func (d *DataSQL) ledger(ctx context.Context, page []mysqlstore.Row, ids []any) error {
	out, err := d.exec(ctx, "", mysqlstore.LedgerOf(len(ids)), ids...)
	if err != nil {
		return err
	}
	lines, err := records[ledgerRecord](out)
	if err != nil {
		return err
	}
	index := map[string]int{}
	for i, r := range page {
		index[r.ID] = i
	}
	for _, l := range lines {
		at, err := parseTime(l.CreatedAt)
		if err != nil {
			return fmt.Errorf("ledger of %s: created_at %q: %w", l.PaymentID, l.CreatedAt, err)
		}
		i := index[l.PaymentID]
		page[i].Ledger = append(page[i].Ledger, mysqlstore.LedgerLine{CreatedAt: at,
			LedgerEntry: payments.LedgerEntry{Account: l.Account, Direction: l.Direction, Amount: l.Amount, Currency: l.Currency}})
	}
	return nil
}

// Holders implements reconcile.Target.
func (d *DataSQL) Holders(ctx context.Context, keys []string) (map[string]string, error) {
	held := map[string]string{}
	if len(keys) == 0 {
		return held, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = []byte(k)
	}
	out, err := d.exec(ctx, "", mysqlstore.KeyHolders(len(keys)), args...)
	if err != nil {
		return nil, err
	}
	rs, err := records[struct {
		Key binary `json:"idempotency_key"`
		ID  string `json:"id"`
	}](out)
	for _, r := range rs {
		held[string(r.Key)] = r.ID
	}
	return held, err
}

// Apply implements reconcile.Target: the payment tables' INSERTs in one
// Data API transaction; a taken key (the database's duplicate-entry
// error, which a provisioned cluster returns as DatabaseErrorException)
// writes nothing and its holder decides.
func (d *DataSQL) Apply(ctx context.Context, r mysqlstore.Row) (reconcile.Outcome, error) {
	tx, err := d.Client.BeginTransaction(ctx, &rdsdata.BeginTransactionInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), Database: aws.String(d.Database)})
	if err != nil {
		return "", err
	}
	id := aws.ToString(tx.TransactionId)
	now := time.Now().UTC()
	for _, st := range mysqlstore.InsertRow(r, now, now) {
		if _, err := d.exec(ctx, id, st.SQL, st.Args...); err != nil {
			_, rerr := d.Client.RollbackTransaction(ctx, &rdsdata.RollbackTransactionInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), TransactionId: aws.String(id)})
			var dbErr *rdsdatatypes.DatabaseErrorException
			if errors.As(err, &dbErr) && mysqlstore.DuplicateKeyMessage(aws.ToString(dbErr.Message)) {
				return reconcile.Taken(ctx, d, r)
			}
			return "", errors.Join(err, rerr)
		}
	}
	// Sent once: a commit whose answer was lost is not repeated (the
	// repeat would find no transaction); run reconcile again, which finds
	// the payment Present if the commit took.
	if _, err := d.Client.CommitTransaction(ctx, &rdsdata.CommitTransactionInput{ResourceArn: aws.String(d.Cluster), SecretArn: aws.String(d.Secret), TransactionId: aws.String(id)}, sendOnce); err != nil {
		return "", err
	}
	return reconcile.Applied, nil
}

var (
	_ reconcile.Source = (*DataSQL)(nil)
	_ reconcile.Target = (*DataSQL)(nil)
)
