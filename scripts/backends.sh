#!/usr/bin/env bash
# The backends a test run shares, on loopback only (internal/backends,
# through cmd/testbackends): dynalite, and two MariaDB servers, "primary"
# (writable) and "secondary" (the Aurora secondary: started read-only,
# which the tests may promote or demote on databases of their own).
# Sourced by scripts/test.sh and scripts/bench.sh: backends_start exports
# the PAYMENTS_TEST_* variables the tests read; backends_stop ends them.

BACKENDS_DIR="${BACKENDS_DIR:-$PWD/.test-backends}"

backends_start() {
  backends_stop # servers an earlier run left in this directory would lose their pid files
  rm -rf "$BACKENDS_DIR"
  mkdir -p "$BACKENDS_DIR"
  local vars
  go build -o "$BACKENDS_DIR/testbackends" ./cmd/testbackends || return 1
  vars=$("$BACKENDS_DIR/testbackends" start -dir "$BACKENDS_DIR") || return 1
  eval "$vars"
  echo "backends: dynalite $PAYMENTS_TEST_DYNAMODB_ENDPOINT, MariaDB primary and read-only secondary; logs in $BACKENDS_DIR/logs" >&2
}

backends_stop() {
  [ -x "$BACKENDS_DIR/testbackends" ] && "$BACKENDS_DIR/testbackends" stop -dir "$BACKENDS_DIR"
  return 0
}

# backends_up, for a script that needs the backends until it exits: the
# pinned tools (dynalite among them) on PATH, the backends started, and
# stopped on exit, also when one fails to start.
backends_up() {
  scripts/ensure-tools.sh
  export PATH=$PWD/tools/node_modules/.bin:$PATH
  trap backends_stop EXIT
  backends_start
}
