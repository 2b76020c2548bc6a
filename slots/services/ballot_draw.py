"""The draw of a day's ballot (slots.services.ballot): when the ballot closes, each office ×
service's requests in a uniformly random order, each booked into the time it asked for or the
nearest free one, the rest put on the day's waiting list and told.

The draw books through `booking_create`, so every rule, the seat's conditional UPDATE and the
CHECK constraints hold as for any booking; each entry is decided under its row lock, and one
day's draw runs once at a time (rto_booking.locks.BALLOT_DRAW).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rto_booking import locks
from slots.errors import (
    AlreadyBooked,
    AlreadyWaiting,
    BookingError,
    SlotFull,
    SlotUnavailable,
    WaitlistInvalid,
)
from slots.messages import ballot_lost_messages_write
from slots.models import BallotEntry, Slot
from slots.rules import bookable_seats
from slots.services.bookings import booking_create
from slots.services.waitlist import waitlist_join

# Entries decided per transaction: a statewide midnight draws thousands, in short transactions.
DRAW_CHUNK = 200


def draw_order(entries: list, rng: random.Random) -> list:
    """`entries` in a uniformly random order (a Fisher–Yates shuffle of `rng`)."""
    drawn = list(entries)
    rng.shuffle(drawn)
    return drawn


@dataclass
class DrawResult:
    won: int = 0
    lost: int = 0
    void: int = 0

    def add(self, other: DrawResult) -> None:
        self.won += other.won
        self.lost += other.lost
        self.void += other.void


def ballots_draw(*, now: datetime | None = None, rng: random.Random | None = None) -> DrawResult:
    """Draw every ballot that has closed by `now`. Idempotent: decided entries stay decided."""
    now = now or timezone.now()
    rng = rng or secrets.SystemRandom()
    result = DrawResult()
    groups = (
        BallotEntry.objects.filter(state=BallotEntry.State.PENDING, closes_at__lte=now)
        .values_list("office_id", "service_id", "day")
        .distinct()
        .order_by("day", "office_id", "service_id")
    )
    for office_id, service_id, day in list(groups):
        result.add(_draw(office_id=office_id, service_id=service_id, day=day, now=now, rng=rng))
    return result


def _draw(*, office_id: int, service_id: int, day: date, now: datetime, rng) -> DrawResult:
    """One office × service × day: all its pending entries shuffled once, then served in
    chunks of DRAW_CHUNK in that order (positions continue across chunks and draws)."""
    result = DrawResult()
    pending = BallotEntry.objects.filter(
        office_id=office_id,
        service_id=service_id,
        day=day,
        state=BallotEntry.State.PENDING,
        closes_at__lte=now,
    )
    key = locks.hashed_key(office_id, service_id, day)
    with locks.session_lock(locks.BALLOT_DRAW, key) as mine:
        if not mine:  # another draw of this day runs: it decides every entry
            return result
        order = draw_order(list(pending.order_by("pk").values_list("pk", flat=True)), rng)
        drawn_before = (
            BallotEntry.objects.filter(office_id=office_id, service_id=service_id, day=day)
            .exclude(position=None)
            .count()
        )
        for start in range(0, len(order), DRAW_CHUNK):
            chunk = order[start : start + DRAW_CHUNK]
            with transaction.atomic():
                locked = {
                    entry.pk: entry
                    for entry in pending.filter(pk__in=chunk)
                    .select_for_update(of=("self",))
                    .select_related("applicant", "office", "service", "slot")
                }
                for pk in chunk:
                    entry = locked.get(pk)
                    if entry is None:  # left meanwhile (the applicant's account removed)
                        continue
                    drawn_before += 1
                    _decide(entry, position=drawn_before, now=now, result=result)
    return result


def _day_slots(entry: BallotEntry) -> list[Slot]:
    """The day's slots of the entry's office × service, nearest to the time asked for first."""
    slots = list(
        Slot.objects.select_related("office", "service", "offering").filter(
            office_id=entry.office_id,
            service_id=entry.service_id,
            starts_at__date=entry.day,
        )
    )
    asked = entry.slot.starts_at
    return sorted(slots, key=lambda s: (abs((s.starts_at - asked).total_seconds()), s.starts_at))


def _decide(entry: BallotEntry, *, position: int, now: datetime, result: DrawResult) -> None:
    """Book `entry` into the first free time of its day (the asked one first), or put it on the
    day's waiting list and tell it. Runs under the entry's row lock."""
    entry.position, entry.drawn_at = position, now
    for slot in _day_slots(entry):
        if bookable_seats(slot=slot, now=now) <= 0:
            continue
        try:
            with transaction.atomic():
                booking = booking_create(
                    applicant=entry.applicant, slot_id=slot.pk, now=now, drawn=True
                )
        except (SlotFull, SlotUnavailable):
            continue  # taken a moment ago, or closed meanwhile: the next nearest time
        except BookingError as error:
            # Booked the service some other way, or its rules no longer allow it.
            entry.state, entry.why = BallotEntry.State.VOID, str(error.message)[:200]
            entry.save(update_fields=["state", "why", "position", "drawn_at"])
            result.void += 1
            return
        entry.state, entry.booking = BallotEntry.State.WON, booking
        entry.save(update_fields=["state", "booking", "position", "drawn_at"])
        result.won += 1
        return
    entry.state = BallotEntry.State.LOST
    try:
        with transaction.atomic():
            entry.waitlist_entry = waitlist_join(
                applicant=entry.applicant,
                office=entry.office,
                service=entry.service,
                date_from=entry.day,
                date_to=entry.day,
                offer_now=False,  # the day is full: nothing to offer until a seat frees up
                now=now,
            )
    except AlreadyWaiting:
        entry.why = _("Already on the waiting list for this service.")
    except (AlreadyBooked, WaitlistInvalid) as error:
        entry.why = str(error.message)[:200]
    entry.save(update_fields=["state", "waitlist_entry", "why", "position", "drawn_at"])
    ballot_lost_messages_write(entry=entry)
    result.lost += 1
