#!/usr/bin/env bash
# Checks the services the tests use and starts any that is down, with the command the machine
# itself uses: PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth) and NATS with
# JetStream on 127.0.0.1:4222.
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

nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
if ! nats_up; then
  command -v nats-server >/dev/null || {
    echo "services: NATS is down and nats-server is not installed (Debian: nats-server)" >&2
    exit 1
  }
  echo "services: NATS is down; starting it with JetStream" >&2
  mkdir -p /var/lib/nats-server
  setsid nohup nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server \
    -l /var/log/nats-server.log >/dev/null 2>&1 < /dev/null &
  for _ in $(seq 1 30); do nats_up && break; sleep 1; done
  nats_up || { echo "services: NATS did not start" >&2; exit 1; }
fi
echo "services: NATS up on 127.0.0.1:4222"
