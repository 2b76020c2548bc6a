"""The ballot when a day opens (DESIGN.md, "Fair access"; docs/API.md, "Ballot when a day opens").

A day becomes bookable at the local midnight BOOKING_HORIZON_DAYS before it. For its first
RELEASE_BALLOT_MINUTES (`slots.rules.ballot_closes_at`) a booking request for it is not served
by the fastest click: `booking_create` enters it here (`ballot_enter`: one entry per applicant,
service and day, so fifty requests from one client count as one) and answers `InBallot`. When
the ballot closes, `slots.services.ballot_draw` (beat, every 30 s) shuffles each office ×
service's entries with the system's random source and serves them in that order: the time
asked for if a seat is still free, else the nearest free time of the day; when the day is
full, the rest join the waiting list for that day, in the draw's order. Winners are told by
the booking confirmation, the others by a `ballot_lost` SMS and e-mail. Until its draw, a
closed ballot's day takes no direct booking (`ballot_undrawn`): a click after the close never
takes a seat before the requests made in time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from slots.models import BallotEntry, Slot
from slots.rules import ballot_window


def ballot_enter(
    *, applicant: Model, slot: Slot, closes_at: datetime, now: datetime
) -> BallotEntry:
    """Enter `applicant`'s request for `slot` in its day's ballot; a second request for the same
    service and day (any time, any office) returns the first entry unchanged."""
    day = timezone.localdate(slot.starts_at)
    try:
        with transaction.atomic():
            return BallotEntry.objects.create(
                applicant=applicant,
                office_id=slot.office_id,
                service_id=slot.service_id,
                day=day,
                slot=slot,
                closes_at=closes_at,
                created_at=now,
            )
    except IntegrityError as error:
        if "ballot_one_per_applicant_service_day" not in str(error):
            raise
    return BallotEntry.objects.select_related("office", "service", "slot").get(
        applicant=applicant, service_id=slot.service_id, day=day
    )


# How long after a ballot closes a direct booking of its day first asks whether it is drawn:
# the beat draws within a minute, so after this no query is spent on it.
DRAW_GRACE = timedelta(minutes=15)


def ballot_undrawn(*, slot: Slot, now: datetime) -> bool:
    """Whether `slot`'s day had a ballot that closed moments ago and is not drawn yet."""
    day = timezone.localdate(slot.starts_at)
    window = ballot_window(day)
    if window is None:
        return False
    closes_at = window[1]
    if not closes_at <= now < closes_at + DRAW_GRACE:
        return False
    return BallotEntry.objects.filter(
        office_id=slot.office_id,
        service_id=slot.service_id,
        day=day,
        state=BallotEntry.State.PENDING,
    ).exists()


def _with_details(entries):
    return entries.select_related("office", "service", "slot", "booking__slot")


def ballot_entries_for_applicant(*, applicant: Model, since: date | None = None) -> list:
    """The applicant's ballot requests of the days from `since` (default today), newest first."""
    since = since or timezone.localdate()
    return list(
        _with_details(BallotEntry.objects)
        .filter(applicant=applicant, day__gte=since)
        .order_by("-day", "-pk")
    )


def ballot_entry_get(*, pk: int) -> BallotEntry:
    return BallotEntry.objects.select_related("office", "service", "slot", "booking__slot").get(
        pk=pk
    )
