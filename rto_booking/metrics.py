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
  process did the work, and survive restarts. Each app registers its own in its
  AppConfig.ready() (`register_database_metrics`): slots (bookings by status, attended and
  no-show counters by office and service from the same query, outages by state
  with their affected/moved/needs-new-slot totals), notifications (outbox rows by status and
  channel, the age of the oldest due row). They run in one transaction under a 2 s statement
  timeout and are cached per process for METRICS_DB_CACHE_SECONDS so that several scrapers do
  not multiply the load.

`/metrics` asks for `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set, and is
refused (403) without one unless METRICS_PUBLIC (default: DJANGO_DEBUG, i.e. `make run`).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable

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
# --- Celery task timing (connected in rto_booking.celery) ---------------------------------------

_task_started: dict[str, float] = {}


def task_started(task_id: str) -> None:
    _task_started[task_id] = time.monotonic()


def task_finished(task_id: str, task_name: str, state: str | None) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(task_name, state or "UNKNOWN").observe(time.monotonic() - started)


# --- Database metrics ----------------------------------------------------------------------------

# Functions returning metric families, read from the database at scrape time (see module doc).
_database_metrics: list[Callable[[], list]] = []


def register_database_metrics(provider: Callable[[], list]) -> None:
    """Add metric families read from the database on each scrape (an app's ready())."""
    if provider not in _database_metrics:
        _database_metrics.append(provider)


class DatabaseCollector:
    """Numbers read from PostgreSQL at scrape time (cached for a few seconds per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached_at = 0.0
        self._cached: list = []

    def _query(self) -> list:
        from django.db import connection, transaction

        families = []
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 2000")
            for provider in _database_metrics:
                families.extend(provider())
        return families

    def _families(self) -> list:
        up = GaugeMetricFamily("rto_metrics_database_up", "1 when the database answered.")
        started = time.monotonic()
        try:
            families = self._query()
        except Exception as error:
            logger.warning("metrics: database query failed: %s", error)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily(
            "rto_metrics_database_seconds", "Time the database metrics queries took."
        )
        took.add_metric([], time.monotonic() - started)
        return [up, took, *families]

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
    elif not settings.METRICS_PUBLIC:
        # Counts of bookings, outages and errors are not for everyone: set a token.
        return JsonResponse(
            {"code": "forbidden", "detail": "Set METRICS_TOKEN to read /metrics."}, status=403
        )
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
