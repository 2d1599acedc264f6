#!/usr/bin/env bash
# The body of `make bench`: warm payment latency and throughput against the
# local backends, and the Lambda binary's cold start. Prints the machine
# and the commands with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_up

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "== go test -run XXX -bench . -benchtime 3s -count 3 ./internal/payments/httpapi"
go test -run XXX -bench . -benchtime 3s -count 3 ./internal/payments/httpapi | grep -E '^Benchmark'
# The shipped binary is linux/arm64 (make lambda); the cold start is
# measured on a copy built for this machine with the same flags, which
# live in the Makefile (LAMBDA_FLAGS) only.
make -s build/native/payments
for b in build/payments/bootstrap build/native/payments; do
  if [ -f "$b" ]; then echo "binary: $b $(du -k "$b" | cut -f1) KiB ($(file -b "$b" 2>/dev/null | cut -d, -f1-2 || true))"; fi
done
# The reference document sits beside the repository (shared/seed); when it
# is there, its Python/boto3 handler is measured on the same dynalite.
seed=$(ls ../shared/seed/*.txt 2>/dev/null | head -n 1 || true)
if [ -n "$seed" ] && python3 -c 'import boto3' 2>/dev/null; then
  echo "== go run ./bench/coldstart -binary build/native/payments -runs 30 -seed $seed"
  go run ./bench/coldstart -binary build/native/payments -runs 30 -seed "$seed"
else
  echo "== go run ./bench/coldstart -binary build/native/payments -runs 30 (no seed document or boto3: no side-by-side)"
  go run ./bench/coldstart -binary build/native/payments -runs 30
fi
