#!/usr/bin/env bash
# The payment journal at AWS's rate and latencies (bench/journalbench):
# JOURNAL_RATE (default 1,000) claims a second for JOURNAL_DURATION
# (default 1m) against the lab's MRSC stand-in with AWS's round trips
# added (12 ms us-east-1, 50 ms us-west-2), the replay of the last minute
# with 10 % of it missing in the new writer, and the sweep of every claim.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_up
go run ./bench/journalbench -rate "${JOURNAL_RATE:-1000}" -duration "${JOURNAL_DURATION:-1m}"
