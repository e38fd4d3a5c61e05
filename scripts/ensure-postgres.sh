#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the test suite and prints
# the admin URL the tests should use. Installs Debian's postgresql when it is missing.
set -euo pipefail
HOST=127.0.0.1 PORT=5432
TRUST_URL="postgresql+psycopg://postgres@$HOST:$PORT/postgres"
PASSWORD_URL="postgresql+psycopg://postgres:sidecar-tests@$HOST:$PORT/postgres"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

can_login() { PGPASSWORD="${2:-}" psql -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; }

if ! pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        $SUDO apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
    fi
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    pg_isready -q -h "$HOST" -p "$PORT" -t 60
fi
if can_login; then echo "$TRUST_URL"; exit 0; fi
if can_login sidecar-tests; then echo "$PASSWORD_URL"; exit 0; fi
# A server we started ourselves uses password auth on TCP: give the tests a password.
$SUDO runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'sidecar-tests'" >&2
can_login sidecar-tests && echo "$PASSWORD_URL"
