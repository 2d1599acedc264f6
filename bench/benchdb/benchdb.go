// Package benchdb gives the benchmarks a migrated payment database of
// their own on a MariaDB/MySQL server, filled fast with the payment
// tables' own bulk INSERTs.
package benchdb

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/payment-dr/payment-dr/internal/payments"
	"github.com/payment-dr/payment-dr/internal/payments/mysqlstore"
)

// Create makes the migrated database name on the server of adminDSN. It
// returns a pool on it with the service's own pool settings, and a DSN
// naming it.
func Create(ctx context.Context, adminDSN, name string) (*sql.DB, string, error) {
	c, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		return nil, "", err
	}
	root, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, "", err
	}
	_, err = root.ExecContext(ctx, "CREATE DATABASE "+name)
	root.Close()
	if err != nil {
		return nil, "", err
	}
	c.DBName, c.ParseTime, c.InterpolateParams = name, true, true
	dsn := c.FormatDSN()
	db, err := mysqlstore.Open(dsn)
	if err != nil {
		return nil, "", err
	}
	if _, err := mysqlstore.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, dsn, nil
}

// Drop removes the database and closes its pool.
func Drop(db *sql.DB, name string) {
	if _, err := db.Exec("DROP DATABASE " + name); err != nil {
		log.Printf("dropping %s: %v", name, err)
	}
	db.Close()
}

// Payment is the benchmarks' payment number i, made every apart from
// first on: keys, ids and refs unique by construction.
func Payment(i int, first time.Time, every time.Duration) payments.Payment {
	return payments.Payment{ID: fmt.Sprintf("%032x", i+1), IdempotencyKey: fmt.Sprintf("order-%010d", i), Amount: 1000, Currency: "USD",
		MerchantRef: "merchant-1", CustomerRef: fmt.Sprintf("customer-%d", i%5000), SessionID: fmt.Sprintf("session-%d", i),
		Status: payments.StatusProcessed, Region: "us-east-1", CreatedAt: first.Add(time.Duration(i) * every)}
}

// RequestHash is the request hash every benchmark payment carries.
var RequestHash = strings.Repeat("b", 64)

// Load writes payments [from, to) of pay with the payment tables' own bulk
// INSERTs, 2,000 per transaction, four transactions at a time.
func Load(ctx context.Context, db *sql.DB, pay func(int) payments.Payment, from, to int) error {
	const batch, workers = 2000, 4
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				var rows []mysqlstore.Row
				for k := i; k < min(i+batch, to); k++ {
					rows = append(rows, mysqlstore.NewRow(pay(k), RequestHash))
				}
				if err := insert(ctx, db, rows); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := from; i < to; i += batch {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// insert commits rows in one transaction. Their keys are unique and
// their references whole by construction, so the session skips the
// server's row-by-row checks.
func insert(ctx context.Context, db *sql.DB, rows []mysqlstore.Row) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0, unique_checks = 0"); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, st := range mysqlstore.InsertRows(rows, rows[0].CreatedAt, rows[0].CreatedAt) {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}
