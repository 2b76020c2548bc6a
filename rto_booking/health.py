"""Liveness, readiness and worker heartbeats (docs/OPERATIONS.md, "Health").

* `/healthz` — the process answers. No I/O: a load balancer or Docker restarts on this.
* `/readyz` — PostgreSQL answers `SELECT 1`, Redis answers PING, a Celery worker of each
  queue in READINESS_WORKER_QUEUES sent a heartbeat within READINESS_HEARTBEAT_MAX_AGE seconds,
  and the checks the apps register (`register_readiness_check`: the e-mail and SMS backends).
  200 when every check is ok, 503 otherwise; each check is reported in the JSON. Without
  REDIS_URL (embedded mode, tasks in-process) the Redis and worker checks are
  "skipped (in-process)" and count as ok. `?checks=postgresql` runs a subset (a load balancer
  should not take every web process out because a worker is down: bookings work without one).

Heartbeats: every worker writes `time()` into one Redis sorted set per queue it consumes
(`rto:ops:heartbeat:<queue>`, member = worker hostname) when it is ready and then on each
Celery heartbeat (every 2 s; see rto_booking.celery). The readiness check reads the newest
score per queue. It goes to Redis directly, never through the fail-open cache.

`python -m rto_booking.health worker --queue Q [--hostname NAME] [--max-age S]` exits 0 when
that worker (or any worker of Q) beat recently: the Docker health check of a worker container
(redis-py and the standard library only, no Django start-up).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable

HEARTBEAT_KEY = "rto:ops:heartbeat:{queue}"
# Members older than this are dropped on write, so a sorted set never grows with old hostnames.
HEARTBEAT_FORGET_SECONDS = 24 * 3600
SKIPPED = "skipped (in-process)"

_clients: dict[str, object] = {}


def _redis(url: str):
    """One client (and connection pool) per URL and process, with short timeouts."""
    client = _clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=1, health_check_interval=30
        )
        _clients[url] = client
    return client


def heartbeat_write(
    *, redis_url: str, hostname: str, queues: Iterable[str], now: float | None = None
) -> None:
    now = time.time() if now is None else now
    pipe = _redis(redis_url).pipeline(transaction=False)
    for queue in queues:
        key = HEARTBEAT_KEY.format(queue=queue)
        pipe.zadd(key, {hostname: now})
        pipe.zremrangebyscore(key, "-inf", now - HEARTBEAT_FORGET_SECONDS)
        pipe.expire(key, HEARTBEAT_FORGET_SECONDS)
    pipe.execute()


def heartbeat_ages(
    *, redis_url: str, queues: Iterable[str], now: float | None = None
) -> dict[str, float | None]:
    """Seconds since the newest heartbeat of each queue (None: no worker ever beat)."""
    now = time.time() if now is None else now
    queues = list(queues)
    pipe = _redis(redis_url).pipeline(transaction=False)
    for queue in queues:
        pipe.zrevrange(HEARTBEAT_KEY.format(queue=queue), 0, 0, withscores=True)
    ages: dict[str, float | None] = {}
    for queue, newest in zip(queues, pipe.execute(), strict=True):
        ages[queue] = round(max(0.0, now - newest[0][1]), 1) if newest else None
    return ages


# --- Views -------------------------------------------------------------------------------------


def healthz(request):
    from django.http import JsonResponse

    return JsonResponse({"status": "ok"})


def _check_postgresql() -> dict:
    from django.db import connection

    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        # A broken connection must not stay in this thread for the next request.
        connection.close_if_unusable_or_obsolete()
        return {"status": "fail", "error": f"{type(error).__name__}: {error}"[:300]}
    return {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_redis(redis_url: str) -> dict:
    started = time.monotonic()
    try:
        _redis(redis_url).ping()
    except Exception as error:
        return {"status": "fail", "error": f"{type(error).__name__}: {error}"[:300]}
    return {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_workers(redis_url: str, queues: list[str], max_age: float) -> dict:
    try:
        ages = heartbeat_ages(redis_url=redis_url, queues=queues)
    except Exception as error:
        return {"status": "fail", "error": f"{type(error).__name__}: {error}"[:300]}
    per_queue = {}
    for queue, age in ages.items():
        ok = age is not None and age <= max_age
        per_queue[queue] = {"status": "ok" if ok else "fail", "heartbeat_age_s": age}
    ok = all(entry["status"] == "ok" for entry in per_queue.values())
    return {"status": "ok" if ok else "fail", "max_age_s": max_age, "queues": per_queue}


CORE_CHECKS = ("postgresql", "redis", "workers")
# Checks the apps add in their AppConfig.ready() (e.g. notifications: can the e-mail and SMS
# backends send?), name → a function returning {"status": "ok"|"fail", ...}.
_app_checks: dict[str, Callable[[], dict]] = {}


def register_readiness_check(name: str, check: Callable[[], dict]) -> None:
    """Add a check to /readyz (called from an app's AppConfig.ready())."""
    _app_checks[name] = check


def ready_check_names() -> tuple[str, ...]:
    return CORE_CHECKS + tuple(_app_checks)


def _run_app_check(check: Callable[[], dict]) -> dict:
    try:
        return check()
    except Exception as error:
        return {"status": "fail", "error": f"{type(error).__name__}: {error}"[:300]}


def readiness(*, checks: Iterable[str] | None = None) -> tuple[bool, dict]:
    from django.conf import settings

    redis_url = settings.REDIS_URL
    results: dict[str, dict] = {}
    for name in ready_check_names() if checks is None else checks:
        if name == "postgresql":
            results[name] = _check_postgresql()
        elif name in _app_checks:
            results[name] = _run_app_check(_app_checks[name])
        elif not redis_url:
            results[name] = {"status": SKIPPED}
        elif name == "redis":
            results[name] = _check_redis(redis_url)
        elif name == "workers":
            results[name] = _check_workers(
                redis_url,
                list(settings.READINESS_WORKER_QUEUES),
                settings.READINESS_HEARTBEAT_MAX_AGE,
            )
    ok = all(result["status"] in {"ok", SKIPPED} for result in results.values())
    return ok, results


def readyz(request):
    from django.http import JsonResponse

    wanted = request.GET.get("checks")
    checks = ready_check_names()
    if wanted:
        known = checks
        checks = tuple(name for name in wanted.split(",") if name in known)
        if not checks:
            return JsonResponse(
                {"status": "fail", "error": f"checks must name some of {', '.join(known)}"},
                status=400,
            )
    ok, results = readiness(checks=checks)
    body = {"status": "ok" if ok else "fail", "checks": results}
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


# --- Docker health check of a worker -----------------------------------------------------------


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rto_booking.health")
    parser.add_argument("what", choices=["worker"])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--hostname", help="this worker's name (rescheduling@$HOSTNAME)")
    parser.add_argument("--max-age", type=float, default=60.0)
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        print("REDIS_URL is not set: tasks run in-process, nothing to check")
        return 0
    key = HEARTBEAT_KEY.format(queue=args.queue)
    try:
        if args.hostname:
            score = _redis(redis_url).zscore(key, args.hostname)
            age = None if score is None else time.time() - score
        else:
            age = heartbeat_ages(redis_url=redis_url, queues=[args.queue])[args.queue]
    except Exception as error:
        print(f"redis: {error}")
        return 1
    who = args.hostname or f"any worker of {args.queue}"
    print(f"{who}: newest heartbeat {age if age is None else round(age, 1)} s ago")
    return 0 if age is not None and age <= args.max_age else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
