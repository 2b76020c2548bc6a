"""Day-before reminders: a message to every confirmed booking whose slot is tomorrow."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Concat
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notifications_write
from slots.links import one_tap_cancel_url
from slots.messages import booking_message_context, message_rows
from slots.models import Booking

IST = ZoneInfo("Asia/Kolkata")
REMINDER_CHUNK_SIZE = 2000


def reminders_write(*, now: datetime | None = None) -> int:
    """Write reminder rows for confirmed bookings whose slot is tomorrow (India time), each with
    the one-tap "I can't come" link.

    Set-based and idempotent: bookings that already have tomorrow's reminder are skipped in
    the query, and the unique (event_key, channel) makes a concurrent second run harmless.
    Returns the number of rows attempted.
    """
    now = now or timezone.now()
    tomorrow = timezone.localtime(now, IST).date() + timedelta(days=1)
    day_start = datetime.combine(tomorrow, time.min, tzinfo=IST)
    already_reminded = Notification.objects.filter(
        booking_id=OuterRef("pk"),
        kind=Notification.Kind.REMINDER,
        event_key=Concat(
            Value("reminder:"),
            OuterRef("reference"),
            Value(f":{tomorrow.isoformat()}"),
            output_field=CharField(),
        ),
    )
    booking_ids = list(
        Booking.objects.filter(
            status=Booking.Status.CONFIRMED,
            slot__starts_at__gte=day_start,
            slot__starts_at__lt=day_start + timedelta(days=1),
        )
        .exclude(Exists(already_reminded))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    written = 0
    for start in range(0, len(booking_ids), REMINDER_CHUNK_SIZE):
        chunk = booking_ids[start : start + REMINDER_CHUNK_SIZE]
        bookings = Booking.objects.filter(pk__in=chunk).select_related(
            "applicant", "office", "service", "slot"
        )
        rows: list[Notification] = []
        for booking in bookings:
            context = booking_message_context(booking)
            context["links"]["cancel"] = one_tap_cancel_url(reference=booking.reference)
            rows.extend(
                message_rows(
                    booking=booking,
                    event_key=f"reminder:{booking.reference}:{tomorrow.isoformat()}",
                    kind=Notification.Kind.REMINDER,
                    context=context,
                    now=now,
                )
            )
        with transaction.atomic():
            written += notifications_write(rows=rows)
    return written
