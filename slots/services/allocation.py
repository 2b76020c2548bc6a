"""Who gets which seat when an outage moves bookings: the FIFO allocator and its inputs.

`assign` is a pure function (no database) and the heart of DESIGN.md invariant 5: among the
bookings one outage moves, an earlier original appointment never gets a later new slot than a
later one. `candidates_for` reads the free seats it allocates from; `affected_rows` the
bookings it allocates to. The rescheduler and the preview call the same three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from slots.models import Closure, Outage, Service, Slot
from slots.rules import licence_window
from slots.services.outage_scope import Group


@dataclass(slots=True)
class Candidate:
    """A slot that can take moved bookings (values only: a chunk reads thousands of them)."""

    slot_id: int
    starts_at: datetime
    day: date
    free: int


@dataclass(slots=True)
class Affected:
    """A booking to move, as far as the move needs to know it."""

    pk: int
    slot_id: int
    office_id: int
    service_id: int
    starts_at: datetime  # of its current slot
    learner_issued: date | None
    created_at: datetime | None = None
    holds_seat: bool = True  # False for a booking on hold: its slot has no seat of it


def affected_rows(queryset, *, holds_seat: bool = True) -> list[Affected]:
    return [
        Affected(*row, holds_seat=holds_seat)
        for row in queryset.values_list(
            "pk",
            "slot_id",
            "office_id",
            "service_id",
            "slot__starts_at",
            "applicant__learner_licence_issued_on",
            "created_at",
        )
    ]


def fifo_key(booking: Affected):
    """The fair order of bookings to place: group, original start, booking time."""
    return (
        booking.office_id,
        booking.service_id,
        booking.starts_at,
        booking.created_at,
        booking.pk,
    )


def candidates_for(
    *, groups: list[Group], earliest: datetime, now: datetime, lock: bool
) -> dict[Group, list[Candidate]]:
    """Slots that could take moved bookings, per group, earliest first: three queries in all.

    Moved bookings may use the priority reserve, so a candidate's free seats are
    capacity - booked - held_offers (a seat held for a waiting-list offer is taken). Slots
    inside another unresolved outage of their office and service (an
    open-ended one up to its hold horizon; a partial one's slots have their reduced capacity
    already), or on a closed day, are skipped. `lock` takes their row locks (the rescheduler's
    chunk does).
    """
    office_ids = sorted({g.office_id for g in groups})
    service_ids = sorted({g.service_id for g in groups})
    latest = now + timedelta(days=settings.SLOT_GENERATION_DAYS + 1)
    slots = Slot.objects.filter(
        office_id__in=office_ids,
        service_id__in=service_ids,
        starts_at__gte=earliest,
        starts_at__lt=latest,
        booked__lt=F("capacity") - F("held_offers"),
        offering__is_active=True,
    ).order_by("office_id", "service_id", "starts_at", "pk")
    if lock:
        slots = slots.select_for_update(of=("self",))

    # Unresolved outages of these offices: (office, service or None for all) → windows.
    blocked: dict[tuple[int, int | None], list[tuple[datetime, datetime]]] = {}
    outages = (
        Outage.objects.blocking(start=earliest, end=latest, now=now)
        .filter(offices__in=office_ids)
        .distinct()
        .prefetch_related("offices", "services")
    )
    for other in outages:
        window = (other.starts_at, other.window_end_at(now))
        named = [s.pk for s in other.services.all()] or [None]
        for office in other.offices.all():
            for service_id in named:
                blocked.setdefault((office.pk, service_id), []).append(window)
    closed: dict[tuple[int, int | None], set[date]] = {}
    for office_id, service_id, day in Closure.objects.filter(
        office_id__in=office_ids, date__gte=timezone.localdate(earliest)
    ).values_list("office_id", "service_id", "date"):
        closed.setdefault((office_id, service_id), set()).add(day)

    wanted = set(groups)
    result: dict[Group, list[Candidate]] = {g: [] for g in groups}
    tz = timezone.get_current_timezone()
    for slot_id, office_id, service_id, starts_at, ends_at, capacity, booked in slots.annotate(
        taken=F("booked") + F("held_offers")
    ).values_list("id", "office_id", "service_id", "starts_at", "ends_at", "capacity", "taken"):
        group = Group(office_id, service_id)
        if group not in wanted:
            continue
        day = starts_at.astimezone(tz).date()
        if day in closed.get((office_id, None), ()) or day in closed.get(
            (office_id, service_id), ()
        ):
            continue
        windows = blocked.get((office_id, None), []) + blocked.get((office_id, service_id), [])
        if any(s < ends_at and e > starts_at for s, e in windows):
            continue
        result[group].append(
            Candidate(slot_id=slot_id, starts_at=starts_at, day=day, free=capacity - booked)
        )
    return result


def assign(
    *, bookings: list[Affected], candidates: list[Candidate], driving_test_id: int | None
) -> tuple[list[tuple[Affected, Candidate]], list[Affected]]:
    """FIFO assignment, deadlines first (DESIGN.md, "Outages as they really happen").

    `bookings` come in their fair order (original start, then booking time); `candidates` in
    time order, each with its free seats (decremented here as seats are given). A shared cursor
    only moves forward, so an earlier original appointment never gets a later new slot than a
    later one (invariant 5). A driving-test booking has a window (30 days to 6 months after its
    learner licence): one whose FIFO seat would fall after the window closes — its licence would
    expire first — is placed before everybody else, in the earliest free seat inside its window
    (the earliest-closing window first); one whose window has not opened at the cursor looks
    further on without moving the cursor for the others. Returns (moves, stranded): the
    stranded found no seat (inside their window) and need a new slot.
    """
    windows = {
        b.pk: licence_window(learner_issued_on=b.learner_issued)
        for b in bookings
        if b.service_id == driving_test_id and b.learner_issued is not None
    }
    urgent: list[Affected] = []
    if windows:
        # A dry FIFO pass on a copy of the seats tells whose licence the FIFO order would let
        # run out.
        trial = [Candidate(c.slot_id, c.starts_at, c.day, c.free) for c in candidates]
        _moves, missed = _fifo(bookings, trial, windows)
        urgent = sorted((b for b in missed if b.pk in windows), key=lambda b: windows[b.pk][1])
    moves, stranded = [], []
    for booking in urgent:
        first, last = windows[booking.pk]
        seat = next((c for c in candidates if c.free > 0 and first <= c.day <= last), None)
        if seat is None:
            stranded.append(booking)
            continue
        seat.free -= 1
        moves.append((booking, seat))
    placed = {b.pk for b in urgent}
    rest_moves, rest_stranded = _fifo(
        [b for b in bookings if b.pk not in placed], candidates, windows
    )
    return moves + rest_moves, stranded + rest_stranded


def _fifo(
    bookings: list[Affected], candidates: list[Candidate], windows: dict[int, tuple[date, date]]
) -> tuple[list[tuple[Affected, Candidate]], list[Affected]]:
    moves, stranded = [], []
    cursor = 0
    for booking in bookings:
        window = windows.get(booking.pk)
        while cursor < len(candidates) and candidates[cursor].free <= 0:
            cursor += 1
        index = cursor
        while index < len(candidates):
            candidate = candidates[index]
            if candidate.free > 0 and (window is None or window[0] <= candidate.day <= window[1]):
                break
            if window is not None and candidate.day > window[1]:
                index = len(candidates)  # (candidates are in time order: none further fits)
                break
            index += 1
        if index >= len(candidates):
            stranded.append(booking)
            continue
        candidates[index].free -= 1
        moves.append((booking, candidates[index]))
    return moves, stranded


def driving_test_id() -> int | None:
    return Service.objects.filter(slug=Service.DRIVING_TEST).values_list("pk", flat=True).first()
