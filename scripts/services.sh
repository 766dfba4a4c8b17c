#!/usr/bin/env bash
# Checks the services the tests use and starts any that is down, with the command the machine
# itself uses: PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth).
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "services: PostgreSQL client tools not found (Debian: postgresql)" >&2
  exit 1
fi
if ! pg_up; then
  echo "services: PostgreSQL is down; starting it" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "services: PostgreSQL did not start" >&2; exit 1; }
fi
# The tests connect as postgres (trust) to database test; make sure it exists.
if ! psql -h 127.0.0.1 -U postgres -d test -qtAc 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test' >/dev/null
fi
echo "services: PostgreSQL up on 127.0.0.1:5432"
