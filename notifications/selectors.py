"""Reads of the notification outbox."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from notifications.models import Notification


def notifications_for_booking(*, booking_id: int) -> QuerySet[Notification]:
    """The booking's messages, oldest first (the API's `notifications` list)."""
    return Notification.objects.filter(booking_id=booking_id).order_by("created_at", "id")


def sms_awaiting_delivery_report(
    *, after_id: int, sent_since: datetime, sent_before: datetime, limit: int
) -> list[tuple[int, str]]:
    """(id, provider id) of sent SMS no report has reached yet, by id from `after_id` on: the
    ones a pull gateway is asked about (slots.messages.sms_delivery_poll)."""
    return list(
        Notification.objects.filter(
            channel=Notification.Channel.SMS,
            delivery="",
            sent_at__gte=sent_since,
            sent_at__lte=sent_before,
            pk__gt=after_id,
        )
        .exclude(provider_id="")
        .order_by("pk")
        .values_list("pk", "provider_id")[:limit]
    )
