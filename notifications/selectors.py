"""Reads of the notification outbox."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification


def notifications_for_booking(*, booking_id: int) -> QuerySet[Notification]:
    """The booking's messages, oldest first (the API's `notifications` list)."""
    return Notification.objects.filter(booking_id=booking_id).order_by("created_at", "id")
