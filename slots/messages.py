"""Which messages a booking's events produce, and what each message needs to know.

The outbox (notifications/) delivers whatever rows it is given and knows nothing of bookings:
this module, beside the events, turns an event into its outbox rows — one per channel the
applicant can receive (SMS always, e-mail when they gave one), in their language, carrying in
`context` everything the templates need (plain JSON; nothing is rendered here: the dispatcher
renders at send time). Rows are written in the transaction that records the event, so a message
exists exactly when its event does (DESIGN.md, "Notifications").

The set-based twin for a statewide reschedule, `slots.hotpath.outbox_rows_for_event_ids`, builds
the same rows inside PostgreSQL; tests/slots/test_hotpath.py holds the two equal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from notifications.models import BOOKING_KINDS, Notification
from notifications.services import notifications_dispatch_on_commit, notifications_write
from slots import hotpath
from slots.links import booking_url

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from datetime import datetime

    from slots.models import Booking, BookingEvent


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def booking_message_context(booking: Booking) -> dict[str, Any]:
    """What every message about `booking` needs. Reads only already-loaded relations."""
    return {
        "reference": booking.reference,
        "full_name": booking.applicant.full_name,
        **_where_and_when(office=booking.office, service=booking.service, slot=booking.slot),
        "links": {"booking": booking_url(reference=booking.reference)},
    }


def _where_and_when(*, office, service, slot) -> dict[str, Any]:
    """The office, service and slot parts of a message's context (booking or offer)."""
    return {
        "office": {
            "code": office.code,
            "name": office.name,
            "name_hi": office.name_hi,
            "address": office.address,
            "address_hi": office.address_hi,
        },
        "service": {"slug": service.slug, "name": service.name, "name_hi": service.name_hi},
        "slot": {"starts_at": _iso(slot.starts_at), "ends_at": _iso(slot.ends_at)},
    }


def message_rows(
    *, booking: Booking, event_key: str, kind: str, context: dict[str, Any], now: datetime
) -> list[Notification]:
    """Unsaved outbox rows of one message about `booking`, one per channel it can go by."""
    applicant = booking.applicant
    channels = [(Notification.Channel.SMS, applicant.mobile)]
    if applicant.email:
        channels.append((Notification.Channel.EMAIL, applicant.email))
    return [
        Notification(
            booking_id=booking.pk,
            applicant_id=booking.applicant_id,
            event_key=event_key,
            channel=channel,
            kind=kind,
            language=applicant.preferred_language or "en",
            recipient=recipient,
            context=context,
            status=Notification.Status.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for channel, recipient in channels
        if recipient
    ]


def _json_safe(extra: dict | None) -> dict[str, Any]:
    # Callers may pass datetimes or lazy strings; the JSON column takes only plain JSON.
    return json.loads(json.dumps(extra, cls=DjangoJSONEncoder)) if extra else {}


def message_rows_for_events(
    *, events: Sequence[BookingEvent], kind: str, extra: dict | None = None
) -> list[Notification]:
    """Unsaved outbox rows, one per event and channel the applicant can receive.

    Each event's booking (with applicant, office, service, slot) and outage must already be
    loaded; the one query asks for the bookings' calendar SEQUENCE as of each event (none when
    every event is a new booking's: its SEQUENCE is 0). `extra` is merged into every context
    (e.g. {"false_alarm": True}).
    """
    from slots.models import BookingEvent
    from slots.selectors import booking_calendar_sequences

    if kind not in BOOKING_KINDS:
        raise ValueError(f"Unknown notification kind {kind!r} for a booking")
    extra_json = _json_safe(extra)
    now = timezone.now()
    later = [event.pk for event in events if event.kind != BookingEvent.Kind.BOOKED]
    sequences = booking_calendar_sequences(event_ids=later) if later else {}
    rows: list[Notification] = []
    for event in events:
        booking = event.booking
        context = booking_message_context(booking)
        context["event_id"] = event.pk
        context["calendar_sequence"] = sequences.get(event.pk, 0)
        context["from_starts_at"] = _iso(event.from_starts_at)
        context["to_starts_at"] = _iso(event.to_starts_at)
        if event.reason:
            context["event_reason"] = event.reason
        if event.outage_id:
            outage = event.outage
            context["outage"] = {
                "id": outage.pk,
                "reason": outage.reason,
                "reason_hi": outage.reason_hi,
                # A partial outage: the service runs, at reduced capacity (not "down").
                "capacity_percent": outage.capacity_percent,
            }
        else:
            context["outage"] = None
        context.update(extra_json)
        rows.extend(
            message_rows(
                booking=booking, event_key=f"event:{event.pk}", kind=kind, context=context, now=now
            )
        )
    return rows


def messages_write_for_events(
    *, events: Sequence[BookingEvent], kind: str, extra: dict | None = None
) -> list[Notification]:
    """Write the events' messages in the caller's transaction (sent after it commits).

    Idempotent: a row already written for the same event and channel is skipped. Returns the
    rows (for an answer that shows them without reading them back)."""
    rows = message_rows_for_events(events=events, kind=kind, extra=extra)
    notifications_write(rows=rows)
    return rows


def messages_write_for_event_ids(*, event_ids: Sequence[int], kind: str) -> None:
    """`messages_write_for_events` for events already in the database, built set-based in
    PostgreSQL (a statewide reschedule writes 60,000 rows per run; see slots/hotpath.py)."""
    if kind not in BOOKING_KINDS:
        raise ValueError(f"Unknown notification kind {kind!r} for a booking")
    if not event_ids:
        return
    hotpath.outbox_rows_for_event_ids(event_ids=event_ids, kind=kind)
    notifications_dispatch_on_commit()


def sms_delivery_report(*, provider_id: str, delivery: str) -> Notification | None:
    """Record a gateway's delivery report (notifications.services.sms_delivery_record); an
    SMS the network did not deliver (undelivered, expired) falls back to e-mail: the same
    message is written for the applicant's address, unless that message already has an
    e-mail (it went with the SMS). Returns the SMS row, None for an unknown id."""
    from notifications.services import UNDELIVERED, sms_delivery_record
    from slots.models import Booking

    with transaction.atomic():
        row = sms_delivery_record(provider_id=provider_id, delivery=delivery)
        if row is None or row.delivery not in UNDELIVERED:
            return row
        if row.booking_id is None:
            return row  # an account SMS (a one-time code) has no e-mail form: asked for again
        email = (
            Booking.objects.filter(pk=row.booking_id)
            .values_list("applicant__email", flat=True)
            .first()
        )
        has_email = Notification.objects.filter(
            event_key=row.event_key, channel=Notification.Channel.EMAIL
        ).exists()
        if email and not has_email:
            notifications_write(
                rows=[
                    Notification(
                        booking_id=row.booking_id,
                        applicant_id=row.applicant_id,
                        event_key=row.event_key,
                        channel=Notification.Channel.EMAIL,
                        kind=row.kind,
                        language=row.language,
                        recipient=email,
                        context=row.context,
                    )
                ]
            )
    return row


# The id after which the next round of `sms_delivery_poll` starts (0: from the oldest again).
DLR_POLL_CURSOR_KEY = "sms:dlr-poll-cursor"


def sms_delivery_poll(*, limit: int | None = None) -> dict[str, int]:
    """Ask a pull gateway (one whose backend has `delivery_status`, e.g. C-DAC's MSDG) about
    sent SMS without a report, and record what it says through `sms_delivery_report`, exactly
    as a pushed report: an undelivered or expired SMS falls back to e-mail or the call list.

    A round asks about at most `limit` (SMS_DLR_POLL_BATCH) SMS sent in the last
    SMS_DLR_POLL_HOURS, going on by id from where the last round stopped and starting over at
    the oldest after the newest, so SMS that stay "submitted" for hours do not starve the rest.
    The first gateway error ends the round (the gateway is down: asking on would only add
    load); the next round starts at that SMS again. Other backends: nothing to do."""
    from notifications.backends import TransientSendError, sms_backend_class
    from notifications.selectors import sms_awaiting_delivery_report

    backend_class = sms_backend_class()
    if not hasattr(backend_class, "delivery_status"):
        return {"asked": 0, "reported": 0}
    limit = limit or settings.SMS_DLR_POLL_BATCH
    now = timezone.now()
    after_id = cache.get(DLR_POLL_CURSOR_KEY) or 0
    rows = sms_awaiting_delivery_report(
        after_id=after_id,
        sent_since=now - timedelta(hours=settings.SMS_DLR_POLL_HOURS),
        # A report takes a moment to exist; asking at once would only cost a request.
        sent_before=now - timedelta(seconds=10),
        limit=limit,
    )
    next_cursor = rows[-1][0] if len(rows) == limit else 0
    asked = reported = 0
    backend = backend_class()
    try:
        for pk, provider_id in rows:
            try:
                delivery = backend.delivery_status(provider_id)
            except TransientSendError:
                logger.warning("Delivery report of SMS %s not available now", pk, exc_info=True)
                next_cursor = pk - 1
                break
            asked += 1
            if delivery is not None:
                sms_delivery_report(provider_id=provider_id, delivery=delivery)
                reported += 1
    finally:
        backend.close()
    cache.set(DLR_POLL_CURSOR_KEY, next_cursor, timeout=None)
    return {"asked": asked, "reported": reported}


def _applicant_message_rows(
    *, applicant, event_key: str, kind: str, context: dict[str, Any]
) -> list[Notification]:
    """Unsaved outbox rows of one message with no booking (an offer, a ballot's result) to
    `applicant`: by SMS, and by e-mail when they gave one."""
    now = timezone.now()
    channels = [(Notification.Channel.SMS, applicant.mobile)]
    if applicant.email:
        channels.append((Notification.Channel.EMAIL, applicant.email))
    return [
        Notification(
            booking=None,
            applicant_id=applicant.pk,
            event_key=event_key,
            channel=channel,
            kind=kind,
            language=applicant.preferred_language or "en",
            recipient=recipient,
            context=context,
            status=Notification.Status.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for channel, recipient in channels
        if recipient
    ]


def offer_messages_write(*, offer) -> list[Notification]:
    """The SMS and e-mail of a waiting-list offer (`slots.models.Offer`, its slot with office
    and service and its entry's applicant loaded), written in the offer's transaction. No
    booking yet: the rows name the applicant; the dispatcher drops them unsent once the
    offer's `expires_at` has passed (a seat offered too late only confuses)."""
    from slots.links import offer_url

    applicant = offer.entry.applicant
    slot = offer.slot
    context = {
        "full_name": applicant.full_name,
        **_where_and_when(office=slot.office, service=slot.service, slot=slot),
        "links": {"offer": offer_url(offer_id=offer.pk)},
        "offer_id": offer.pk,
        "expires_at": _iso(offer.expires_at),
    }
    rows = _applicant_message_rows(
        applicant=applicant,
        event_key=f"offer:{offer.pk}",
        kind=Notification.Kind.WAITLIST_OFFER,
        context=context,
    )
    notifications_write(rows=rows)
    return rows


def ballot_lost_messages_write(*, entries) -> list[Notification]:
    """The SMS and e-mail telling each of a ballot's `entries` (`slots.models.BallotEntry`,
    their applicant, office, service and slot loaded) that the draw left no seat: on the day's
    waiting list now (`waitlist_entry`), or not (already on one for the service). Written in
    the draw's transaction, one insert for all; no booking."""
    rows: list[Notification] = []
    for entry in entries:
        context = {
            "full_name": entry.applicant.full_name,
            **_where_and_when(office=entry.office, service=entry.service, slot=entry.slot),
            "links": {"site": settings.SITE_URL},
            "ballot_entry": entry.pk,
            "waitlisted": entry.waitlist_entry_id is not None,
        }
        rows += _applicant_message_rows(
            applicant=entry.applicant,
            event_key=f"ballot:{entry.pk}",
            kind=Notification.Kind.BALLOT_LOST,
            context=context,
        )
    if rows:
        notifications_write(rows=rows)
    return rows
