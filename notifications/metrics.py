"""The outbox's numbers for /metrics: what dispatcher runs did (counted as they finish), and
what waits in PostgreSQL (read at scrape time)."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from notifications.dispatcher import DUE_STATUSES
from notifications.models import Notification

DISPATCH_TASK = "notifications.tasks.dispatch_notifications"

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


def count_dispatch_outcomes(*, task=None, retval=None, **kwargs) -> None:
    """task_postrun: add a dispatcher run's outcomes to the counters."""
    if getattr(task, "name", None) != DISPATCH_TASK or not isinstance(retval, dict):
        return
    for outcome in ("sent", "retrying", "dead"):
        count = retval.get(outcome) or 0
        if count:
            NOTIFICATIONS_DISPATCHED.labels(outcome).inc(count)
            if outcome != "sent":
                NOTIFICATION_FAILURES.labels(outcome).inc(count)


def database_metrics() -> list:
    outbox = GaugeMetricFamily(
        "rto_outbox_messages",
        "Outbox rows by status and channel (pending/failed = backlog, dead = given up).",
        labels=["status", "channel"],
    )
    rows = Notification.objects.order_by().values("status", "channel").annotate(count=Count("id"))
    for row in rows:
        outbox.add_metric([row["status"], row["channel"]], row["count"])
    oldest = GaugeMetricFamily(
        "rto_outbox_oldest_due_seconds",
        "Age of the oldest outbox row that is due and not sent (0 when none).",
    )
    now = timezone.now()
    # Uses the partial index notification_due: cheap however many sent rows there are.
    due = Notification.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
    first = due.aggregate(first=Min("next_attempt_at"))["first"]
    oldest.add_metric([], (now - first).total_seconds() if first else 0.0)
    return [outbox, oldest]
