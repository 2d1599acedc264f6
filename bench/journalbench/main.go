// Command journalbench measures the payment journal at AWS's rate and
// latencies: claims at -rate for -duration against the lab's MRSC
// stand-in (three embedded etcd members, DynamoDB's per-partition write
// limit enforced) behind a front adding AWS's round trip to every write
// and consistent read (backends.AWSLatency: about 12 ms from us-east-1,
// 50 ms from us-west-2); then the failover's replay of the last minute
// into a new writer (MariaDB) in us-west-2 that lacks -missing of its
// payments, chunk by chunk as drctl sends it; then the retention sweep of
// every claim from us-west-2 (the slower Region, as after a failover).
//
//	go run ./bench/journalbench -writer-dsn "$PAYMENTS_TEST_MYSQL_ADMIN_DSN" -dynamodb "$PAYMENTS_TEST_DYNAMODB_ENDPOINT"
//
// bench/journal.sh starts the local backends and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/payment-dr/payment-dr/internal/backends"
	"github.com/payment-dr/payment-dr/internal/claims"
	"github.com/payment-dr/payment-dr/internal/lab/mrsc"
)

const (
	east, west, witness = "us-east-1", "us-west-2", "us-east-2"
	table               = "payment-journal-bench"
)

type options struct {
	writerDSN                string
	rate                     int
	duration                 time.Duration
	eastLatency, westLatency backends.AWSLatency
	missing                  float64
	dynamoDB                 string
}

func main() {
	var o options
	var eastLat, westLat string
	flag.StringVar(&o.writerDSN, "writer-dsn", os.Getenv(backends.EnvMySQLAdminDSN), "admin DSN of the MariaDB/MySQL server holding the new writer's database")
	flag.IntVar(&o.rate, "rate", 1000, "claims per second to offer")
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long to offer claims (the replay takes the last minute of them)")
	flag.StringVar(&eastLat, "east-latency", "12ms", "added round trip of a journal write and consistent read in us-east-1 (backends.ParseAWSLatency)")
	flag.StringVar(&westLat, "west-latency", "50ms", "the same in us-west-2, where the replay and one sweep run")
	flag.StringVar(&o.dynamoDB, "dynamodb", os.Getenv(backends.EnvDynamoDBEndpoint), "DynamoDB endpoint for the new writer's session table (dynalite)")
	flag.Float64Var(&o.missing, "missing", 0.10, "share of the replayed minute's payments the new writer lacks")
	flag.Parse()
	var err error
	if o.eastLatency, err = backends.ParseAWSLatency(eastLat); err == nil {
		o.westLatency, err = backends.ParseAWSLatency(westLat)
	}
	switch {
	case err != nil:
		log.Fatal(err)
	case o.writerDSN == "" || o.dynamoDB == "":
		log.Fatal("need -writer-dsn (an admin DSN of a MariaDB/MySQL server) and -dynamodb (dynalite), or the test backends' variables")
	case o.rate < 1 || o.duration < time.Minute || o.missing <= 0 || o.missing > 1:
		log.Fatal("need -rate >= 1, -duration >= 1m and 0 < -missing <= 1")
	}
	if err := run(context.Background(), o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "journalbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cluster, err := mrsc.Start(ctx, mrsc.Options{Dir: filepath.Join(dir, "mrsc"), Regions: []string{east, west}, Witness: witness, OpTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cluster.Close()
	journals := map[string]*claims.Journal{}
	for r, lat := range map[string]backends.AWSLatency{east: o.eastLatency, west: o.westLatency} {
		h, err := cluster.Endpoint(r, mrsc.Table{Name: table, HashKey: "pk", RangeKey: "sk"})
		if err != nil {
			return err
		}
		url, stop, err := backends.ServeLoopback(lat.Handler(h))
		if err != nil {
			return err
		}
		defer stop()
		journals[r] = &claims.Journal{Client: backends.DynamoDB(url, r), Table: table}
	}
	fmt.Printf("journal: MRSC stand-in (3 etcd members in process), added round trip %s %+v, %s %+v\n", east, o.eastLatency, west, o.westLatency)

	start := time.Now().UTC()
	claims, err := offerClaims(ctx, journals[east], o.rate, o.duration, start)
	if err != nil {
		return err
	}
	claims.print(o.rate)
	if err := replayMinute(ctx, o, journals[west], claims); err != nil {
		return err
	}
	return sweepAll(ctx, journals[west], west, claims)
}
