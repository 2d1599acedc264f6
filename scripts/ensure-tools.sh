#!/usr/bin/env bash
# Makes sure the system packages the tests need are present: MariaDB (a real
# MySQL-compatible server for the payment service's tests). On Debian/Ubuntu
# as root it installs them; otherwise it says what to install.
set -euo pipefail

have_mariadb() { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; }

if ! have_mariadb; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing mariadb-server (Debian package) for the tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null
  else
    echo "the tests need MariaDB: install the mariadb-server package (e.g. sudo apt-get install mariadb-server)" >&2
    exit 1
  fi
fi
