#!/usr/bin/env bash
# Make a local PostgreSQL server answer on 127.0.0.1:5432 (start it, or install it from apt),
# then create a fresh database; prints its SQLAlchemy URL on the last line.
set -euo pipefail
DB=${1:-hawiya_test}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1 || ! ready; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing PostgreSQL from apt..." >&2
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
ready || { echo "PostgreSQL did not start" >&2; exit 1; }
# Password for TCP logins on a freshly installed server (a trust-auth server ignores it).
if ! psql -h 127.0.0.1 -U postgres -w -c "select 1" postgres >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
  else
    sudo -u postgres psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >&2
  fi
fi
export PGPASSWORD=postgres
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"$DB\"" postgres >&2
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE \"$DB\"" postgres >&2
echo "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/$DB"
