#!/usr/bin/env bash
# Exactly-once under faults, at length: PAYMENTS_CHAOS_REQUESTS (default
# 5000) payments through the handler over HTTP while a private MariaDB
# server's connections are killed every 100 ms and the server is frozen
# (SIGSTOP) for 1-3.5 s every 3 s, and a third of the clients give up
# after 1.5 s. Prints the answers and the figures the test checks: 0
# payments committed but answered 5xx as not applied, 0 answered 500,
# 0 committed payments without an event. `make test` runs a short version.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_up
echo "== PAYMENTS_CHAOS_REQUESTS=${PAYMENTS_CHAOS_REQUESTS:-5000} go test -count=1 -v -run TestChaos ./internal/payments/httpapi"
PAYMENTS_CHAOS_REQUESTS=${PAYMENTS_CHAOS_REQUESTS:-5000} go test -count=1 -timeout 20m -v -run TestChaos ./internal/payments/httpapi |
  grep -E 'requests|PASS|FAIL|ok|answered'
