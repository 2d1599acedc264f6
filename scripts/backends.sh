#!/usr/bin/env bash
# Local stand-ins for the payment service's AWS backends, on loopback only:
#   - dynalite (DynamoDB API, pinned in tools/package.json)
#   - two private MariaDB servers: "primary" (writable) and "secondary"
#     (the Aurora secondary: started read-only, which the tests may promote
#     or demote mid-run without disturbing other test packages)
# Sourced by scripts/test.sh and scripts/bench.sh: backends_start exports
# the PAYMENTS_TEST_* variables the tests read; backends_stop ends them.

BACKENDS_DIR="${BACKENDS_DIR:-$PWD/.test-backends}"

_free_port() {
  # Ask the kernel for a free loopback port.
  python3 - 2>/dev/null <<'PY' || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

_mariadbd() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

_wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "backends: $name did not become ready in ${secs}s; logs in $BACKENDS_DIR" >&2
  return 1
}

_start_mariadb() { # name, port, extra server flags...
  local name=$1 port=$2; shift 2
  local dir="$BACKENDS_DIR/$name"
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --user="$(id -un)" >"$dir/install.log" 2>&1 || {
    echo "backends: mariadb-install-db failed for $name; see $dir/install.log" >&2; return 1; }
  "$(_mariadbd)" --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" \
    --bind-address=127.0.0.1 --port="$port" --pid-file="$dir/mysqld.pid" --user="$(id -un)" \
    --skip-name-resolve --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
    --max-connections=300 --log-error="$dir/error.log" "$@" &
  echo $! >"$dir/server.pid"
  _wait_for "MariaDB ($name)" 30 mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e 'SELECT 1'
  # The service's user starts with no privilege at all: migrating a
  # database (mysqlstore.Migrate, then mysqlstore.EnsureAppUser, as the
  # migration function does on Aurora) grants it exactly what the service
  # needs there. Without SUPER/READ_ONLY ADMIN, read_only applies to it.
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot <<SQL
CREATE USER IF NOT EXISTS 'payments_app'@'127.0.0.1' IDENTIFIED BY 'payments-local-test';
CREATE USER IF NOT EXISTS 'payments_admin'@'127.0.0.1' IDENTIFIED BY 'payments-local-admin';
GRANT ALL PRIVILEGES ON *.* TO 'payments_admin'@'127.0.0.1' WITH GRANT OPTION;
SQL
}

backends_start() {
  rm -rf "$BACKENDS_DIR"
  mkdir -p "$BACKENDS_DIR"
  local ddb_port primary_port secondary_port
  ddb_port=$(_free_port); primary_port=$(_free_port); secondary_port=$(_free_port)

  dynalite --host 127.0.0.1 --port "$ddb_port" >"$BACKENDS_DIR/dynalite.log" 2>&1 &
  echo $! >"$BACKENDS_DIR/dynalite.pid"

  _start_mariadb primary "$primary_port" || return 1
  _start_mariadb secondary "$secondary_port" --read-only || return 1
  _wait_for dynalite 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ddb_port" || return 1

  # Credentials here are throw-away values for servers that exist only on
  # loopback for the duration of the test run.
  export PAYMENTS_TEST_MYSQL_DSN="payments_app:payments-local-test@tcp(127.0.0.1:$primary_port)/"
  export PAYMENTS_TEST_MYSQL_ADMIN_DSN="payments_admin:payments-local-admin@tcp(127.0.0.1:$primary_port)/"
  export PAYMENTS_TEST_MYSQL_SECONDARY_DSN="payments_app:payments-local-test@tcp(127.0.0.1:$secondary_port)/"
  export PAYMENTS_TEST_MYSQL_SECONDARY_ADMIN_DSN="payments_admin:payments-local-admin@tcp(127.0.0.1:$secondary_port)/"
  export PAYMENTS_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
  echo "backends: dynalite :$ddb_port, MariaDB primary :$primary_port, secondary (read-only) :$secondary_port" >&2
}

backends_stop() {
  local f
  for f in "$BACKENDS_DIR"/dynalite.pid "$BACKENDS_DIR"/*/server.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  wait 2>/dev/null
  return 0
}
