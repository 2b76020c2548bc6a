#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer before the test suite runs; start the local system
# services if they do not. Checks the servers DATABASE_URL / REDIS_URL name when they are set,
# else the local defaults the test settings use. Exits non-zero, saying why, when they cannot be
# had (`make test` then uses the embedded ones of rto_booking/embedded.py).
set -euo pipefail

DEFAULT_PG_PORT=5432
DEFAULT_REDIS_PORT=6379

# "host port" of a URL (a PostgreSQL socket directory may come as ?host=/path).
host_port() {
  python3 -c '
import sys, urllib.parse as parse
url, default_port = sys.argv[1], sys.argv[2]
parts = parse.urlsplit(url)
query = dict(parse.parse_qsl(parts.query))
print(parts.hostname or query.get("host") or "127.0.0.1", parts.port or query.get("port") or default_port)
' "$1" "$2"
}

read -r PG_HOST PG_PORT < <(host_port "${DATABASE_URL:-}" "$DEFAULT_PG_PORT")
read -r REDIS_HOST REDIS_PORT < <(host_port "${REDIS_URL:-}" "$DEFAULT_REDIS_PORT")

pg_up() { pg_isready -q -t 3 -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }
# Only the machine's own services are ever started, and only where they listen.
local_default() { { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ]; } && [ "$2" = "$3" ]; }

if ! command -v pg_isready >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "PostgreSQL and Redis are not installed on this machine (pg_isready and redis-cli not found)." >&2
  exit 1
fi

if ! pg_up; then
  if ! local_default "$PG_HOST" "$PG_PORT" "$DEFAULT_PG_PORT"; then
    echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT (DATABASE_URL)." >&2
    exit 1
  fi
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting it..."
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL could not be started on $PG_HOST:$PG_PORT." >&2; exit 1; }
fi

if ! redis_up; then
  if ! local_default "$REDIS_HOST" "$REDIS_PORT" "$DEFAULT_REDIS_PORT"; then
    echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT (REDIS_URL)." >&2
    exit 1
  fi
  echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT; starting it..."
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  redis_up || { echo "Redis could not be started on $REDIS_HOST:$REDIS_PORT." >&2; exit 1; }
fi

echo "PostgreSQL ($PG_HOST:$PG_PORT) and Redis ($REDIS_HOST:$REDIS_PORT) are up."
