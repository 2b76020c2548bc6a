#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer before the test suite runs; start them if they do not.
# Uses DATABASE_URL / REDIS_URL when set, else the local defaults the test settings use.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

if ! command -v pg_isready >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "make test needs PostgreSQL and Redis installed (pg_isready and redis-cli not found)." >&2
  echo "On Debian/Ubuntu: apt-get install postgresql redis-server" >&2
  exit 1
fi

if ! pg_up; then
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting it..."
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL could not be started on $PG_HOST:$PG_PORT." >&2; exit 1; }
fi

if ! redis_up; then
  echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT; starting it..."
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  redis_up || { echo "Redis could not be started on $REDIS_HOST:$REDIS_PORT." >&2; exit 1; }
fi

echo "PostgreSQL and Redis are up."
