#!/usr/bin/env bash
# The failover's journal replay against a large writer: REPLAY_PAYMENTS
# (default 1,000,000) payments acknowledged at 100/s, the newest
# REPLAY_LOST (default 400, about 4 s of stalled replication) missing from
# the writer, the window's claims in a journal table on dynalite. Prints
# the load time and the replay's time, which should follow the window's
# claims, not the table.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_up
go run ./bench/journalreplay -payments "${REPLAY_PAYMENTS:-1000000}" -lost "${REPLAY_LOST:-400}"
