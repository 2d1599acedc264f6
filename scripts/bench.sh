#!/usr/bin/env bash
# The body of `make bench`: warm payment latency and throughput against the
# local backends, and the Lambda binary's cold start. Prints the machine
# and the commands with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tools.sh
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_start
trap backends_stop EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "== go test -run XXX -bench . -benchtime 3s -count 3 ./internal/payments/httpapi"
go test -run XXX -bench . -benchtime 3s -count 3 ./internal/payments/httpapi | grep -E '^Benchmark'
mkdir -p build/native
go build -tags lambda.norpc -trimpath -o build/native/payments ./cmd/payments
echo "== go run ./bench/coldstart -binary build/native/payments -runs 30"
go run ./bench/coldstart -binary build/native/payments -runs 30
