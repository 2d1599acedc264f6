#!/usr/bin/env bash
# The body of `make test`: start the local stand-ins for AWS on loopback,
# run every Go test against them, stop them whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh

# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_start
trap backends_stop EXIT

go test -count=1 -timeout 30m ./...
