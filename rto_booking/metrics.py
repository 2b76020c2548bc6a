"""Prometheus metrics: `/metrics` on the web, and an optional port on each Celery worker.

Two kinds of numbers:

* **Process metrics** (prometheus-client Counters and Histograms), counted where things happen:
  HTTP requests by route and status (rto_booking.middleware), Celery task durations by task and
  outcome (task_prerun/task_postrun, rto_booking.celery) and the dispatcher's outcomes (sent,
  retrying, dead). With several processes per container (gunicorn workers, a prefork pool) set
  PROMETHEUS_MULTIPROC_DIR to an empty directory before the processes start: every process then
  writes its values there and any one of them serves the sum. Without it each process serves its
  own values (fine for one process per container).
* **Database metrics**, computed from PostgreSQL on each scrape — they are the truth whatever
  process did the work, and survive restarts: bookings by status, outbox rows by status and
  channel (one GROUP BY), the age of the oldest due outbox row, outages by rescheduling state
  with their affected/moved/needs-new-slot totals. The queries run under a 2 s statement
  timeout and are cached per process for METRICS_DB_CACHE_SECONDS so that several scrapers do
  not multiply the load.

`/metrics` asks for `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS = Counter(
    "rto_http_requests",
    "HTTP requests answered, by route (URL name), method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "rto_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (URL name).",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_DURATION = Histogram(
    "rto_celery_task_duration_seconds",
    "Run time of Celery tasks, by task name and final state (SUCCESS, FAILURE, RETRY).",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800),
)
NOTIFICATIONS_DISPATCHED = Counter(
    "rto_notifications_dispatched",
    "Outbox rows handled by dispatcher runs, by outcome (sent, retrying, dead).",
    ["outcome"],
)
NOTIFICATION_FAILURES = Counter(
    "rto_notification_failures",
    "Failed sends seen by dispatcher runs: retrying (transient) or dead (given up).",
    ["kind"],
)

# --- Celery task timing (connected in rto_booking.celery) ---------------------------------------

_task_started: dict[str, float] = {}


def task_started(task_id: str) -> None:
    _task_started[task_id] = time.monotonic()


def task_finished(task_id: str, task_name: str, state: str | None, retval=None) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(task_name, state or "UNKNOWN").observe(time.monotonic() - started)
    if task_name == "notifications.tasks.dispatch_notifications" and isinstance(retval, dict):
        for outcome in ("sent", "retrying", "dead"):
            count = retval.get(outcome) or 0
            if count:
                NOTIFICATIONS_DISPATCHED.labels(outcome).inc(count)
                if outcome != "sent":
                    NOTIFICATION_FAILURES.labels(outcome).inc(count)


# --- Database metrics ----------------------------------------------------------------------------

_DB_QUERIES = {
    "bookings": "SELECT status, count(*) FROM slots_booking GROUP BY status",
    "outbox": (
        "SELECT status, channel, count(*) FROM notifications_notification GROUP BY status, channel"
    ),
    # Uses the partial index notification_due: cheap however many sent rows there are.
    "oldest_due": (
        "SELECT extract(epoch FROM now() - min(next_attempt_at)) FROM notifications_notification"
        " WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()"
    ),
    "outages": (
        "SELECT state, (resolved_at IS NULL OR resolved_at > now()) AS active, count(*),"
        " coalesce(sum(affected), 0), coalesce(sum(moved), 0), coalesce(sum(needs_new_slot), 0)"
        " FROM slots_outage GROUP BY 1, 2"
    ),
}


class DatabaseCollector:
    """Numbers read from PostgreSQL at scrape time (cached for a few seconds per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached_at = 0.0
        self._cached: list = []

    def _query(self) -> dict:
        from django.db import connection, transaction

        rows = {}
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL statement_timeout = 2000")
            for name, sql in _DB_QUERIES.items():
                if name == "oldest_due" and connection.vendor != "postgresql":
                    continue
                cursor.execute(sql)
                rows[name] = cursor.fetchall()
        return rows

    def _families(self) -> list:
        up = GaugeMetricFamily("rto_metrics_database_up", "1 when the database answered.")
        started = time.monotonic()
        try:
            rows = self._query()
        except Exception as error:
            logger.warning("metrics: database query failed: %s", error)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily(
            "rto_metrics_database_seconds", "Time the database metrics queries took."
        )
        took.add_metric([], time.monotonic() - started)

        bookings = GaugeMetricFamily(
            "rto_bookings", "Bookings by status (all time, from PostgreSQL).", labels=["status"]
        )
        for status, count in rows["bookings"]:
            bookings.add_metric([status], count)

        outbox = GaugeMetricFamily(
            "rto_outbox_messages",
            "Outbox rows by status and channel (pending/failed = backlog, dead = given up).",
            labels=["status", "channel"],
        )
        for status, channel, count in rows["outbox"]:
            outbox.add_metric([status, channel], count)
        oldest = GaugeMetricFamily(
            "rto_outbox_oldest_due_seconds",
            "Age of the oldest outbox row that is due and not sent (0 when none).",
        )
        due_rows = rows.get("oldest_due") or [(None,)]
        oldest.add_metric([], float(due_rows[0][0] or 0))

        outages = GaugeMetricFamily(
            "rto_outages",
            "Outages by rescheduling state and whether they are still active (unresolved).",
            labels=["state", "active"],
        )
        moved = GaugeMetricFamily(
            "rto_outage_bookings",
            "Bookings affected by all outages so far, by outcome (affected, moved, "
            "needs_new_slot); an undone outage takes its moves back.",
            labels=["outcome"],
        )
        totals = {"affected": 0, "moved": 0, "needs_new_slot": 0}
        for state, active, count, affected, moved_count, needs in rows["outages"]:
            outages.add_metric([state, "true" if active else "false"], count)
            totals["affected"] += int(affected)
            totals["moved"] += int(moved_count)
            totals["needs_new_slot"] += int(needs)
        for outcome, value in totals.items():
            moved.add_metric([outcome], value)
        return [up, took, bookings, outbox, oldest, outages, moved]

    def collect(self):
        from django.conf import settings

        ttl = settings.METRICS_DB_CACHE_SECONDS
        with self._lock:
            if not self._cached or time.monotonic() - self._cached_at >= ttl:
                self._cached = self._families()
                self._cached_at = time.monotonic()
            return list(self._cached)


_database_collector = DatabaseCollector()


def process_registry() -> CollectorRegistry:
    """The registry holding this process's (or, in multiprocess mode, all processes') values."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition(*, with_database: bool = True) -> bytes:
    output = generate_latest(process_registry())
    if with_database:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_database_collector)
        output += generate_latest(registry)
    return output


def metrics_view(request):
    from django.conf import settings
    from django.http import HttpResponse, JsonResponse

    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = JsonResponse(
                {"code": "not_authenticated", "detail": "A valid metrics token is required."},
                status=401,
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def worker_metrics_server(port: int) -> None:
    """Serve this worker's task metrics on `port` (the worker's main process calls this)."""
    from prometheus_client import start_http_server

    if not MULTIPROCESS:
        logger.info(
            "metrics: PROMETHEUS_MULTIPROC_DIR is not set; a prefork pool's child processes "
            "will not be counted on port %s",
            port,
        )
    start_http_server(port, addr="0.0.0.0", registry=process_registry())  # noqa: S104
