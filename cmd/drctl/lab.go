package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/dr/canary"
	"github.com/payment-dr/payment-dr/internal/dr/cli"
	"github.com/payment-dr/payment-dr/internal/lab/labapi"
	"github.com/payment-dr/payment-dr/internal/lab/labcloud"
)

// labPoll is how often drctl re-checks the lab: its moves take about
// 100 ms, so wait steps poll at 200 ms rather than the 5 s that suits
// AWS, and measure the move, not the poll interval.
const labPoll = 200 * time.Millisecond

// connectLab builds the Cloud and the canary for the DR lab running in
// dir (drlab up --dir DIR) instead of AWS: the lab's cloud (labcloud),
// canaries through the lab's front door (the failover name) with the
// lab's API key, and reconcile's access to the old primary's kept data
// and the writer (resolved when reconcile runs).
func connectLab(ctx context.Context, cfg config.Config, dir string, viaARC bool) (cli.Conn, error) {
	lc, err := labcloud.Open(dir)
	if err != nil {
		return cli.Conn{}, fmt.Errorf("--lab %s: %w", dir, err)
	}
	if lc.Lab.Environment != cfg.Environment {
		return cli.Conn{}, fmt.Errorf("--lab %s runs environment %q, but --config is %q: pass the lab's configuration", dir, lc.Lab.Environment, cfg.Environment)
	}
	for _, r := range cfg.Regions() {
		if _, ok := lc.Lab.Regions[r]; !ok {
			return cli.Conn{}, fmt.Errorf("--lab %s has no Region %s of the configuration", dir, r)
		}
	}
	st, err := lc.API.Status(ctx)
	if err != nil {
		return cli.Conn{}, fmt.Errorf("--lab %s: %w", dir, err)
	}
	regions := lc.Lab.Regions
	c := &canary.HTTP{WriteURL: lc.Lab.FailoverURL, APIKey: lc.Lab.APIKey, Client: &http.Client{Timeout: 5 * time.Second},
		RegionURL: func(r string) string { return regions[r].APIURL }}
	offset := time.Duration(st.ClockOffsets[labapi.DrctlClock]) * time.Millisecond
	conn := cli.Conn{Cloud: lc, Canary: c, Reconcile: lc, Poll: labPoll, ClockOffset: offset, ARC: labARC(cfg, lc)}
	if viaARC {
		// The lab's Region switch keeps its custom actions' journals in
		// the lab's mirror, as the function does in the session table.
		conn.Mirror = &labcloud.DirMirror{Dir: labcloud.MirrorDir(dir)}
	}
	return conn, nil
}

// labARC is drctl's ARC Region switch client (the one it uses on AWS)
// pointed at the lab daemon, which serves the execution API in ARC's wire
// protocol for both Regions (the Region is in the request's signature).
// The daemon checks no signature: the credentials are placeholders.
func labARC(cfg config.Config, lc *labcloud.Cloud) *awsops.RegionSwitch {
	awsCfg := aws.Config{Region: cfg.PrimaryRegion, BaseEndpoint: aws.String(lc.APIBaseURL()),
		Credentials: credentials.NewStaticCredentialsProvider("LAB", "lab", "")}
	return awsops.NewRegionSwitch(cfg, awsops.Bounded(awsCfg, awsops.AttemptTimeout, awsops.MaxBackoff), cfg.PrimaryRegion)
}
