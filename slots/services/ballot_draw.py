"""The draw of a day's ballot (slots.services.ballot): when the ballot closes, each office ×
service's requests in a uniformly random order, each booked into the time it asked for or the
nearest free one, the rest put on the day's waiting list and told.

The draw books through `booking_create_drawn`: the slot's rules checked once per chunk, the
applicant's for each booking, the seat's conditional UPDATE and the CHECK constraints as for
any booking; each entry is decided under its row lock, and one day's draw runs once at a time
(rto_booking.locks.BALLOT_DRAW).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rto_booking import locks
from slots.errors import (
    BookingError,
    SlotFull,
)
from slots.messages import ballot_lost_messages_write
from slots.models import BallotEntry, Offering, Slot
from slots.selectors import availability_for_office
from slots.services.bookings import booking_create_drawn
from slots.services.waitlist import waitlist_join_day

# Entries decided per transaction: a statewide midnight draws thousands, in short transactions.
DRAW_CHUNK = 500


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


def ballots_due(*, now: datetime | None = None) -> list[tuple[int, int, date]]:
    """The (office id, service id, day) whose ballot has closed by `now` with requests undrawn."""
    now = now or timezone.now()
    return list(
        BallotEntry.objects.filter(state=BallotEntry.State.PENDING, closes_at__lte=now)
        .values_list("office_id", "service_id", "day")
        .distinct()
        .order_by("day", "office_id", "service_id")
    )


def ballots_draw(*, now: datetime | None = None, rng: random.Random | None = None) -> DrawResult:
    """Draw every ballot that has closed by `now`, one after the other (the beat task gives
    each its own task instead, so a statewide midnight is drawn by every worker process at
    once). Idempotent: decided entries stay decided."""
    now = now or timezone.now()
    result = DrawResult()
    for office_id, service_id, day in ballots_due(now=now):
        result.add(
            ballot_draw(office_id=office_id, service_id=service_id, day=day, now=now, rng=rng)
        )
    return result


def ballot_draw(
    *,
    office_id: int,
    service_id: int,
    day: date,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> DrawResult:
    """Draw one office × service's ballot of `day` (the requests closed by `now`). A draw of
    the same ballot running elsewhere is left to finish it: this one returns at once."""
    return _draw(
        office_id=office_id,
        service_id=service_id,
        day=day,
        now=now or timezone.now(),
        rng=rng or secrets.SystemRandom(),
    )


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
                seats = _DaySeats(office_id=office_id, service_id=service_id, day=day, now=now)
                drawn, lost = [], []
                for pk in chunk:
                    entry = locked.get(pk)
                    if entry is None:  # left meanwhile (the applicant's account removed)
                        continue
                    drawn_before += 1
                    entry.position, entry.drawn_at = drawn_before, now
                    drawn.append(entry)
                    if not _book(entry, seats=seats, now=now, result=result):
                        lost.append(entry)
                _waitlist(lost, now=now)
                result.lost += len(lost)
                _save(drawn)
                ballot_lost_messages_write(entries=lost)
    return result


def _save(entries: list[BallotEntry]) -> None:
    """Each decided entry's result, in one pipelined batch (bulk_update's CASE per column and
    row cost more than the draw's bookings)."""
    table = BallotEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET state = %s, position = %s, drawn_at = %s, "  # noqa: S608
            "booking_id = %s, waitlist_entry_id = %s, why = %s WHERE id = %s",
            [
                (e.state, e.position, e.drawn_at, e.booking_id, e.waitlist_entry_id, e.why, e.pk)
                for e in entries
            ],
        )


class _DaySeats:
    """The day's slots of one office × service and the seats each still has for the draw, as
    the availability pages count them (closures, outages, reserve, cutoff: three queries),
    read once per chunk under the entries' locks; the conditional UPDATE of each booking has
    the last word, and a refusal sets the slot's count to 0."""

    def __init__(self, *, office_id: int, service_id: int, day: date, now: datetime):
        offering = Offering.objects.select_related("office", "service").get(
            office_id=office_id, service_id=service_id
        )
        (availability,) = availability_for_office(
            offering=offering, date_from=day, date_to=day, now=now
        )
        self.slots = [entry.slot for entry in availability.slots]
        for slot in self.slots:  # what the booking's write reads, without a query each
            slot.office, slot.service, slot.offering = offering.office, offering.service, offering
        self.free = {entry.slot.pk: entry.available for entry in availability.slots}

    def nearest_free(self, asked: datetime) -> list[Slot]:
        """The slots with a seat left, nearest to `asked` first (earlier on a tie)."""
        return sorted(
            (slot for slot in self.slots if self.free[slot.pk] > 0),
            key=lambda slot: (abs((slot.starts_at - asked).total_seconds()), slot.starts_at),
        )


def _book(entry: BallotEntry, *, seats: _DaySeats, now: datetime, result: DrawResult) -> bool:
    """Book `entry` into the free time of its day nearest to the one it asked for; False when
    the day has no seat left for it. The booking's statement runs in a savepoint of its
    own, so a refusal leaves the chunk's transaction intact."""
    for slot in seats.nearest_free(entry.slot.starts_at):
        try:
            booking = booking_create_drawn(applicant=entry.applicant, slot=slot, now=now)
        except SlotFull:
            seats.free[slot.pk] = 0  # taken a moment ago, or closed meanwhile: the next one
            continue
        except BookingError as error:
            # Booked the service some other way, or its rules no longer allow it.
            entry.state, entry.why = BallotEntry.State.VOID, str(error.message)[:200]
            result.void += 1
            return True
        seats.free[slot.pk] -= 1
        entry.state, entry.booking = BallotEntry.State.WON, booking
        result.won += 1
        return True
    entry.state = BallotEntry.State.LOST
    return False


def _waitlist(lost: list[BallotEntry], *, now: datetime) -> None:
    """Put the entries the draw left without a seat on their day's waiting list, in the draw's
    order; an applicant already waiting for the service keeps that entry (and is told why)."""
    if not lost:
        return
    first = lost[0]
    joined = waitlist_join_day(
        applicants=[entry.applicant for entry in lost],
        office=first.office,
        service=first.service,
        day=first.day,
        now=now,
    )
    for entry in lost:
        entry.waitlist_entry = joined.get(entry.applicant_id)
        if entry.waitlist_entry is None:
            entry.why = _("Already on the waiting list for this service.")
