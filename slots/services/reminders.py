"""Confirm or release: the reminder with "I'll come" / "I can't come", the last call to a booking
nobody confirmed, and its release (docs/NOTIFICATIONS.md, "Reminders: confirm or release").

The rules, in the appointment's own time:
* the reminder is due REMINDER_HOURS before; a booking made later than that gets it half-way
  between booking and appointment (booked 10 hours ahead: reminded 5 hours before), so nobody
  is reminded the minute after booking, and nobody goes unreminded;
* with RELEASE_UNCONFIRMED, a booking still unconfirmed RELEASE_AFTER_HOURS before gets the last
  call, if its reminder went before that moment (a booking made or moved so late that it was
  never asked in time is never released), it is no priority booking (moved by an outage: it
  waited enough) and the release can still come before the appointment;
* RELEASE_LAST_CALL_MINUTES after its last call was written, a booking still unconfirmed (and
  still at the same day) is released through the cancel service: by the system, a `released`
  history row and message, the seat free at once.

Each job locks the bookings it writes for (skip_locked: concurrent runs split the work), re-checks
in the same query that the message is not written yet, and writes it in that transaction; the
unique (event_key, channel) is the backstop. The keys name the booking and the appointment's day
(`reminder:<ref>:<date>`, `last_call:<ref>:<date>`), so a booking moved to another day is asked
again about the new one, and a message is written once per day it is about.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Value
from django.db.models.functions import Cast, Concat, TruncDate
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notifications_write
from slots.errors import BookingError
from slots.links import reminder_link_url
from slots.messages import booking_message_context, message_rows
from slots.models import Booking
from slots.selectors import booking_calendar_sequence_expression

IST = ZoneInfo("Asia/Kolkata")
REMINDER_CHUNK_SIZE = 2000
RELEASE_REASON = "not confirmed in time"


def _with_key(bookings, prefix: str, name: str):
    """`bookings` annotated `name` = `<prefix>:<reference>:<the slot's day in India>`."""
    return bookings.annotate(
        **{
            name: Concat(
                Value(f"{prefix}:"),
                F("reference"),
                Value(":"),
                Cast(TruncDate("slot__starts_at", tzinfo=IST), output_field=CharField()),
                output_field=CharField(),
            )
        }
    )


def _event_key(prefix: str, booking: Booking) -> str:
    day = timezone.localtime(booking.slot.starts_at, IST).date()
    return f"{prefix}:{booking.reference}:{day.isoformat()}"


def _links(booking: Booking) -> dict[str, str]:
    return {
        "confirm": reminder_link_url(action="yes", reference=booking.reference),
        "cancel": reminder_link_url(action="no", reference=booking.reference),
    }


def _write_in_chunks(*, due, prefix: str, kind: str, now: datetime, extra=None) -> int:
    """Lock a chunk of `due` bookings not yet sent `prefix`'s message, write it, commit; again
    from the last id, until none is left. Returns the number of rows attempted."""
    already = Notification.objects.filter(
        booking_id=OuterRef("pk"), kind=kind, event_key=OuterRef("own_key")
    )
    due = _with_key(due, prefix, "own_key")
    written, after = 0, 0
    while True:
        with transaction.atomic():
            bookings = list(
                due.filter(pk__gt=after)
                .exclude(Exists(already))
                .select_related("applicant", "office", "service", "slot")
                .annotate(calendar_sequence=booking_calendar_sequence_expression())
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")[:REMINDER_CHUNK_SIZE]
            )
            if not bookings:
                return written
            rows: list[Notification] = []
            for booking in bookings:
                context = booking_message_context(booking)
                context["calendar_sequence"] = booking.calendar_sequence
                context["links"].update(_links(booking))
                context.update(extra or {})
                rows.extend(
                    message_rows(
                        booking=booking,
                        event_key=_event_key(prefix, booking),
                        kind=kind,
                        context=context,
                        now=now,
                    )
                )
            written += notifications_write(rows=rows)
            after = bookings[-1].pk


def _confirmed_ahead(now: datetime):
    return Booking.objects.filter(
        status=Booking.Status.CONFIRMED, confirmed_at__isnull=True, slot__starts_at__gt=now
    )


def reminders_write(*, now: datetime | None = None) -> int:
    """Write the reminder ("I'll come" / "I can't come") of every confirmed booking that is due
    one (the module's rules). Idempotent; returns the number of rows attempted."""
    now = now or timezone.now()
    # Half-way: the time left is at most the time since booking (created_at <= 2 now - start).
    half_way = ExpressionWrapper(
        Value(now) - (F("slot__starts_at") - Value(now)), output_field=DateTimeField()
    )
    # Also a booking confirmed already (on "My bookings" or by an earlier day's link) is
    # reminded of its time; its text asks nothing it has answered wrongly: "I'll come" again
    # changes nothing.
    due = Booking.objects.filter(
        status=Booking.Status.CONFIRMED,
        slot__starts_at__gt=now,
        slot__starts_at__lte=now + timedelta(hours=settings.REMINDER_HOURS),
        created_at__lte=half_way,
    )
    return _write_in_chunks(due=due, prefix="reminder", kind=Notification.Kind.REMINDER, now=now)


def last_calls_write(*, now: datetime | None = None) -> int:
    """With RELEASE_UNCONFIRMED: the last call of every booking still unconfirmed
    RELEASE_AFTER_HOURS before its time, asked in time by its reminder. Idempotent."""
    if not settings.RELEASE_UNCONFIRMED:
        return 0
    now = now or timezone.now()
    window = timedelta(minutes=settings.RELEASE_LAST_CALL_MINUTES)
    reminded_in_time = Notification.objects.filter(
        booking_id=OuterRef("pk"),
        kind=Notification.Kind.REMINDER,
        event_key=OuterRef("reminder_key"),
        created_at__lte=ExpressionWrapper(
            OuterRef("slot__starts_at") - Value(timedelta(hours=settings.RELEASE_AFTER_HOURS)),
            output_field=DateTimeField(),
        ),
    )
    due = (
        _with_key(_confirmed_ahead(now), "reminder", "reminder_key")
        .filter(
            priority=False,
            slot__starts_at__lte=now + timedelta(hours=settings.RELEASE_AFTER_HOURS),
            # The release (a window after this) must still come before the appointment.
            slot__starts_at__gt=now + window,
        )
        .filter(Exists(reminded_in_time))
    )
    return _write_in_chunks(
        due=due,
        prefix="last_call",
        kind=Notification.Kind.LAST_CALL,
        now=now,
        extra={"release_at": (now + window).isoformat()},
    )


def unconfirmed_release(*, now: datetime | None = None) -> int:
    """With RELEASE_UNCONFIRMED: release every booking whose last call (for its current day)
    was written RELEASE_LAST_CALL_MINUTES ago or more and which is still unconfirmed, through
    the cancel service (which re-checks under its row lock). Returns how many were released."""
    if not settings.RELEASE_UNCONFIRMED:
        return 0
    from slots.services.bookings import booking_cancel

    now = now or timezone.now()
    called = Notification.objects.filter(
        booking_id=OuterRef("pk"),
        kind=Notification.Kind.LAST_CALL,
        event_key=OuterRef("last_call_key"),
        created_at__lte=now - timedelta(minutes=settings.RELEASE_LAST_CALL_MINUTES),
    )
    due = (
        _with_key(_confirmed_ahead(now), "last_call", "last_call_key")
        .filter(priority=False)
        .filter(Exists(called))
        .select_related("slot")
        .order_by("slot__starts_at", "pk")
    )
    released = 0
    # A list, not a cursor held open across the cancels' own transactions: the bookings of
    # one window of RELEASE_LAST_CALL_MINUTES, read once.
    for booking in list(due):
        try:
            booking_cancel(
                booking=booking, release_unconfirmed=True, reason=RELEASE_REASON, now=now
            )
        except BookingError:
            continue  # confirmed, cancelled or moved meanwhile, or busy: the next round sees
        released += 1
    return released


def unconfirmed_bookings_process(*, now: datetime | None = None) -> dict[str, int]:
    """The beat job of "confirm or release": first the releases that are due, then the last
    calls (a booking never gets its last call and its release in one round)."""
    now = now or timezone.now()
    released = unconfirmed_release(now=now)
    return {"released": released, "last_calls": last_calls_write(now=now)}
