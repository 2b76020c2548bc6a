"""Told in time: how an outage's messages went out, per channel (the outage admin page and
/metrics). The messages of an outage are the outbox rows of its events (`event:<id>` keys)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import CharField, Count, Max, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from notifications.models import Notification
from slots.models import BookingEvent, Outage

S = Notification.Status
D = Notification.Delivery
# Outages whose time to notify /metrics reports: the recent ones (bounded label count).
METRICS_DAYS = 7


def outage_messages(outage_id: int):
    keys = (
        BookingEvent.objects.filter(outage_id=outage_id)
        .annotate(key=Concat(Value("event:"), Cast("id", CharField())))
        .values("key")
    )
    return Notification.objects.filter(event_key__in=keys)


def outage_told(outage: Outage) -> dict:
    """Per channel: messages, sent, waiting, given up, superseded; for SMS the delivery
    reports (delivered, undelivered, no report yet); and the time to notify: seconds from the
    mark-down (the outage's recording) to the last message accepted, final once none waits."""
    rows = (
        outage_messages(outage.pk)
        .order_by()
        .values("channel")
        .annotate(
            total=Count("id"),
            sent=Count("id", filter=Q(status=S.SENT)),
            waiting=Count("id", filter=Q(status__in=[S.PENDING, S.FAILED])),
            dead=Count("id", filter=Q(status=S.DEAD)),
            superseded=Count("id", filter=Q(status=S.SUPERSEDED)),
            delivered=Count("id", filter=Q(delivery=D.DELIVERED)),
            undelivered=Count("id", filter=Q(delivery__in=[D.UNDELIVERED, D.EXPIRED])),
            last_sent=Max("sent_at"),
        )
    )
    told = {}
    for row in rows:
        last = row.pop("last_sent")
        seconds = (last - outage.created_at).total_seconds() if last else None
        told[row["channel"]] = {
            **row,
            "no_report": row["sent"] - row["delivered"] - row["undelivered"],
            "seconds_to_last": round(seconds, 1) if seconds is not None else None,
            "complete": row["waiting"] == 0 and outage.state == Outage.State.DONE,
        }
    return told


def told_metrics() -> list:
    from prometheus_client.core import GaugeMetricFamily

    gauge = GaugeMetricFamily(
        "rto_outage_time_to_notify_seconds",
        "Seconds from an outage's mark-down to the last message of it accepted, per channel "
        f"(outages of the last {METRICS_DAYS} days; complete=false while messages wait).",
        labels=["outage", "channel", "complete"],
    )
    since = timezone.now() - timedelta(days=METRICS_DAYS)
    for outage in Outage.objects.filter(created_at__gte=since).order_by("pk")[:50]:
        for channel, figures in outage_told(outage).items():
            if figures["seconds_to_last"] is not None:
                gauge.add_metric(
                    [str(outage.pk), channel, "true" if figures["complete"] else "false"],
                    figures["seconds_to_last"],
                )
    return [gauge]
