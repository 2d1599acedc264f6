#!/usr/bin/env bash
# The body of `make test`: start the local stand-ins for AWS on loopback,
# run every Go test against them, stop them whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/backends.sh
source scripts/backends.sh
backends_up

go test -count=1 -timeout 30m ./...
