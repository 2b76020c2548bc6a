"""Reads of the notification outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from notifications.models import Notification

if TYPE_CHECKING:
    from slots.models import Booking


def notifications_for_booking(*, booking: Booking) -> QuerySet[Notification]:
    """The booking's messages, oldest first (the API's `notifications` list)."""
    return Notification.objects.filter(booking=booking).order_by("created_at", "id")
