#!/usr/bin/env bash
# drctl reconcile's cost for a small lost window among many payments:
# RECONCILE_PAYMENTS (default 1,000,000) payments in the old primary, all
# but the newest RECONCILE_LOST (default 50) in the writer, on the local
# MariaDB backends. Prints the load time and reconcile's time (dry run
# and --apply), which should follow the window, not the table.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_up
go run ./bench/reconcile -payments "${RECONCILE_PAYMENTS:-1000000}" -lost "${RECONCILE_LOST:-50}"
