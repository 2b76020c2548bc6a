"""`assign`, the FIFO allocator of an outage's moves (slots/services/allocation.py), as a pure
function: table-driven cases, then invariant 5 over generated inputs (hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slots.services.allocation import Affected, Candidate, assign

IST = ZoneInfo("Asia/Kolkata")
DAY0 = date(2026, 12, 14)
DRIVING = 2  # the driving-test service id in these cases
PHOTO = 1


def booking(pk: int, *, service: int = PHOTO, learner: date | None = None) -> Affected:
    starts = datetime(2026, 12, 10, 10, tzinfo=IST) + timedelta(minutes=30 * pk)
    return Affected(
        pk=pk,
        slot_id=1000 + pk,
        office_id=1,
        service_id=service,
        starts_at=starts,
        learner_issued=learner,
    )


def seats(*free_per_day: int, first: date = DAY0) -> list[Candidate]:
    """One candidate slot per day from `first`, with these free seats."""
    return [
        Candidate(
            slot_id=i + 1,
            starts_at=datetime.combine(first + timedelta(days=i), datetime.min.time(), IST),
            day=first + timedelta(days=i),
            free=free,
        )
        for i, free in enumerate(free_per_day)
    ]


def run(bookings, candidates):
    moves, stranded = assign(bookings=bookings, candidates=candidates, driving_test_id=DRIVING)
    return {b.pk: c.slot_id for b, c in moves}, [b.pk for b in stranded]


CASES = {
    "each takes the earliest free seat, in order": (
        [booking(1), booking(2), booking(3)],
        seats(2, 2),
        ({1: 1, 2: 1, 3: 2}, []),
    ),
    "full candidates are skipped": (
        [booking(1), booking(2)],
        seats(0, 1, 0, 1),
        ({1: 2, 2: 4}, []),
    ),
    "no seat left: the rest need a new slot, still in order": (
        [booking(1), booking(2), booking(3)],
        seats(1, 1),
        ({1: 1, 2: 2}, [3]),
    ),
    "no candidates at all": ([booking(1)], [], ({}, [1])),
    "a learner licence too young for the first seat looks further, others keep the cursor": (
        # Learner issued DAY0 - 29 days: the first driving-test day is DAY0 + 1.
        [
            booking(1, service=DRIVING, learner=DAY0 - timedelta(days=29)),
            booking(2, service=DRIVING),
        ],
        seats(1, 1),
        ({1: 2, 2: 1}, []),
    ),
    "a learner licence that expired before every seat: needs a new slot": (
        [booking(1, service=DRIVING, learner=DAY0 - timedelta(days=200)), booking(2)],
        seats(1, 1),
        ({2: 1}, [1]),
    ),
    "the licence applies to driving tests only": (
        [booking(1, service=PHOTO, learner=DAY0 - timedelta(days=200))],
        seats(1),
        ({1: 1}, []),
    ),
    "no learner date recorded: no window": (
        [booking(1, service=DRIVING, learner=None)],
        seats(1),
        ({1: 1}, []),
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_assign(case):
    bookings, candidates, expected = CASES[case]
    assert run(bookings, candidates) == expected


def test_seats_given_are_taken_from_the_candidates():
    candidates = seats(2, 1)
    run([booking(1), booking(2)], candidates)
    assert [c.free for c in candidates] == [0, 1]


@given(
    people=st.integers(min_value=0, max_value=40),
    free=st.lists(st.integers(min_value=0, max_value=4), max_size=15),
)
def test_fifo_an_earlier_appointment_never_gets_a_later_slot(people, free):
    """Invariant 5 (DESIGN.md), for bookings without a licence window; and every booking is
    either moved or stranded, the stranded ones only once seats ran out, never more seats
    given than were free."""
    bookings = [booking(i) for i in range(people)]
    candidates = seats(*free)
    moves, stranded = run(bookings, candidates)
    order = [moves[b.pk] for b in bookings if b.pk in moves]
    assert order == sorted(order)
    assert len(moves) == min(people, sum(free))
    assert set(moves) | set(stranded) == {b.pk for b in bookings}
    assert all(b > a for a in moves for b in stranded)  # stranded ones come last
    assert all(c.free >= 0 for c in candidates)
