"""Told in time: how an outage's messages went out, per channel (the outage admin page and
/metrics). The messages of an outage are the outbox rows of its events (`event:<id>` keys)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import BigIntegerField, CharField, Count, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Concat, Substr
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
    """`rto_outage_time_to_notify_seconds` for the outages of the last METRICS_DAYS days: one
    query, whatever the number of outages and messages (each message's outage through its
    event's primary key)."""
    from prometheus_client.core import GaugeMetricFamily

    gauge = GaugeMetricFamily(
        "rto_outage_time_to_notify_seconds",
        "Seconds from an outage's mark-down to the last message of it accepted, per channel "
        f"(outages of the last {METRICS_DAYS} days; complete=false while messages wait).",
        labels=["outage", "channel", "complete"],
    )
    since = timezone.now() - timedelta(days=METRICS_DAYS)
    outage = Outage.objects.filter(pk=OuterRef("outage_id"))
    rows = (
        Notification.objects.filter(event_key__regex=r"^event:[0-9]+$", created_at__gte=since)
        .annotate(event_id=Cast(Substr("event_key", 7), BigIntegerField()))
        .annotate(
            outage_id=Subquery(
                BookingEvent.objects.filter(
                    pk=OuterRef("event_id"), outage__created_at__gte=since
                ).values("outage_id")[:1]
            )
        )
        .filter(outage_id__isnull=False)
        .order_by()
        .values("outage_id", "channel")
        .annotate(
            waiting=Count("id", filter=Q(status__in=[S.PENDING, S.FAILED])),
            last_sent=Max("sent_at"),
            recorded=Subquery(outage.values("created_at")[:1]),
            state=Subquery(outage.values("state")[:1]),
        )
        .order_by("outage_id", "channel")
    )
    for row in rows:
        if row["last_sent"] is None:
            continue
        complete = row["waiting"] == 0 and row["state"] == Outage.State.DONE
        gauge.add_metric(
            [str(row["outage_id"]), row["channel"], "true" if complete else "false"],
            round((row["last_sent"] - row["recorded"]).total_seconds(), 1),
        )
    return [gauge]
