"""`assign`, the FIFO allocator of an outage's moves (slots/services/allocation.py), as a pure
function: table-driven cases, then invariant 5 over generated inputs (hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
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


def expiring_on(day: date) -> date:
    """The learner-licence issue date whose last driving-test day is `day`."""
    return day - timedelta(days=settings.LEARNER_LICENCE_VALID_DAYS)


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
    "a licence that would expire before its FIFO seat is placed first, inside its window": (
        [
            booking(1, service=DRIVING),
            booking(2, service=DRIVING, learner=expiring_on(DAY0)),
        ],
        seats(1, 1),
        ({2: 1, 1: 2}, []),
    ),
    "a deadline goes before an earlier appointment whose licence lasts longer": (
        [
            booking(1, service=DRIVING, learner=expiring_on(DAY0 + timedelta(days=1))),
            booking(2, service=DRIVING, learner=expiring_on(DAY0)),
            booking(3, service=DRIVING),
        ],
        seats(1, 1, 1),
        ({2: 1, 1: 2, 3: 3}, []),
    ),
    "a deadline no seat inside the window can meet: needs a new slot, the others keep theirs": (
        [
            booking(1, service=DRIVING),
            booking(2, service=DRIVING),
            booking(3, service=DRIVING, learner=expiring_on(DAY0)),
            booking(4, service=DRIVING, learner=expiring_on(DAY0)),
        ],
        seats(1, 2),
        ({3: 1, 1: 2, 2: 2}, [4]),
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
    moves, stranded = run(bookings, candidates)
    assert (moves, sorted(stranded)) == (expected[0], sorted(expected[1]))


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


@given(
    learners=st.lists(st.one_of(st.none(), st.integers(min_value=-200, max_value=0)), max_size=30),
    free=st.lists(st.integers(min_value=0, max_value=3), max_size=15),
)
def test_deadlines_first_nobody_stranded_while_a_seat_they_may_take_is_free(learners, free):
    """With learner licences (days before DAY0, or none): every seat given lies inside the
    booking's window; a booking is stranded only when every seat it may take is gone; among
    bookings without a window, an earlier appointment never gets a later slot (invariant 5)."""
    from slots.rules import licence_window

    bookings = [
        booking(i, service=DRIVING, learner=None if d is None else DAY0 + timedelta(days=d))
        for i, d in enumerate(learners)
    ]
    candidates = seats(*free)
    day = {c.slot_id: c.day for c in candidates}
    moves, stranded = run(bookings, candidates)
    windows = {
        b.pk: licence_window(learner_issued_on=b.learner_issued)
        for b in bookings
        if b.learner_issued
    }
    for pk, slot_id in moves.items():
        if pk in windows:
            assert windows[pk][0] <= day[slot_id] <= windows[pk][1]
    for pk in stranded:
        first, last = windows.get(pk, (date.min, date.max))
        assert all(c.free == 0 for c in candidates if first <= c.day <= last)
    plain = [moves[b.pk] for b in bookings if b.pk in moves and b.pk not in windows]
    assert plain == sorted(plain)
    assert set(moves) | set(stranded) == {b.pk for b in bookings}
    assert all(c.free >= 0 for c in candidates)
