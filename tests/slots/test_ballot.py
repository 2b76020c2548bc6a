"""The ballot when a day opens (DESIGN.md "Fair access"; docs/API.md) against real PostgreSQL.

The day `OPENING` becomes bookable at today's local midnight (BOOKING_HORIZON_DAYS ahead); with
the default RELEASE_BALLOT_MINUTES (10) its requests until 00:10 are drawn by lot. The services
take `now`, so these tests run the default window at any time of day.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from notifications.models import Notification
from notifications.rendering import render_notification
from notifications.sms import sms_length
from slots import errors
from slots.integrity import integrity_violations
from slots.messages import ballot_lost_messages_write
from slots.metrics import _waitlist_metrics
from slots.models import BallotEntry, Booking, Slot, WaitlistEntry
from slots.rules import ballot_closes_at
from slots.selectors import availability_for_office
from slots.services.ballot import ballot_undrawn
from slots.services.ballot_draw import ballots_draw, draw_order
from slots.services.bookings import booking_create, booking_reschedule
from slots.services.waitlist import offers_make
from tests.factories import ApplicantFactory, SlotFactory, local_dt
from tests.notifications.test_sms_length import BUDGET, LONG_OFFICE, LONG_SERVICE

pytestmark = pytest.mark.django_db


def _midnight(minutes: int = 0) -> datetime:
    today = timezone.localdate()
    return timezone.make_aware(datetime.combine(today, time())) + timedelta(minutes=minutes)


@pytest.fixture
def opening_day():
    """The day that became bookable at today's midnight."""
    return timezone.localdate() + timedelta(days=settings.BOOKING_HORIZON_DAYS)


@pytest.fixture
def opening_slots(bhopal_photo, opening_day):
    """Three times of the opening day: 10:00 (2 seats), 10:30 (1 seat), 11:00 (1 seat)."""
    return [
        SlotFactory(offering=bhopal_photo, starts_at=local_dt(opening_day, 10), capacity=2),
        SlotFactory(offering=bhopal_photo, starts_at=local_dt(opening_day, 10, 30), capacity=1),
        SlotFactory(offering=bhopal_photo, starts_at=local_dt(opening_day, 11), capacity=1),
    ]


def _enter(applicant, slot, minutes: int = 3):
    with pytest.raises(errors.InBallot) as entered:
        booking_create(applicant=applicant, slot_id=slot.pk, now=_midnight(minutes))
    return entered.value.entry


def test_the_window_is_the_first_minutes_of_the_newly_opened_day_only(opening_day):
    start = local_dt(opening_day, 10)
    assert ballot_closes_at(starts_at=start, now=_midnight(0)) == _midnight(10)
    assert ballot_closes_at(starts_at=start, now=_midnight(9)) == _midnight(10)
    assert ballot_closes_at(starts_at=start, now=_midnight(10)) is None
    # The day before opened yesterday: first come, first served by now.
    earlier = local_dt(opening_day - timedelta(days=1), 10)
    assert ballot_closes_at(starts_at=earlier, now=_midnight(3)) is None


def test_no_ballot_with_zero_minutes(settings, opening_slots, applicant):
    settings.RELEASE_BALLOT_MINUTES = 0
    booking = booking_create(applicant=applicant, slot_id=opening_slots[0].pk, now=_midnight(1))
    assert booking.status == Booking.Status.CONFIRMED


def test_a_request_in_the_window_is_entered_not_booked(opening_slots, applicant):
    slot = opening_slots[0]
    entry = _enter(applicant, slot)

    assert (entry.state, entry.slot_id, entry.closes_at) == ("pending", slot.pk, _midnight(10))
    assert not Booking.objects.filter(applicant=applicant).exists()
    slot.refresh_from_db()
    assert slot.booked == 0


def test_fifty_requests_from_one_applicant_are_one_entry(opening_slots, applicant):
    first = _enter(applicant, opening_slots[0], minutes=1)
    for n in range(49):
        again = _enter(applicant, opening_slots[n % 3], minutes=1 + n % 8)
        assert again.pk == first.pk and again.slot_id == opening_slots[0].pk
    assert BallotEntry.objects.filter(applicant=applicant).count() == 1


def test_the_database_refuses_a_second_entry_for_the_service_and_day(opening_slots, applicant):
    entry = _enter(applicant, opening_slots[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        BallotEntry.objects.create(
            applicant=applicant,
            office=entry.office,
            service=entry.service,
            day=entry.day,
            slot=opening_slots[1],
            closes_at=entry.closes_at,
        )


def test_the_booking_rules_still_apply_before_entering(opening_slots, applicant):
    unverified = ApplicantFactory(mobile_verified_at=None)
    with pytest.raises(errors.MobileNotVerified):
        booking_create(applicant=unverified, slot_id=opening_slots[0].pk, now=_midnight(2))
    booking_create(
        applicant=applicant,
        slot_id=SlotFactory(offering=opening_slots[0].offering).pk,
    )
    with pytest.raises(errors.AlreadyBooked):
        booking_create(applicant=applicant, slot_id=opening_slots[0].pk, now=_midnight(2))
    assert not BallotEntry.objects.exists()


def test_the_draw_books_exactly_the_seats_and_waitlists_the_rest(opening_slots):
    applicants = [ApplicantFactory() for _ in range(10)]
    for applicant in applicants:
        _enter(applicant, opening_slots[0])

    result = ballots_draw(now=_midnight(10))

    assert (result.won, result.lost, result.void) == (4, 6, 0)
    for slot in opening_slots:
        slot.refresh_from_db()
    assert [s.booked for s in opening_slots] == [2, 1, 1]
    entries = list(BallotEntry.objects.order_by("position"))
    assert [e.position for e in entries] == list(range(1, 11))
    won = [e for e in entries if e.state == "won"]
    lost = [e for e in entries if e.state == "lost"]
    # Served in the draw's order: the first four drawn have the seats.
    assert [e.position for e in won] == [1, 2, 3, 4]
    # 10:00 asked for: its two seats first, then the nearest free times.
    assert sorted(e.booking.slot_id for e in won) == sorted(
        [opening_slots[0].pk, opening_slots[0].pk, opening_slots[1].pk, opening_slots[2].pk]
    )
    # The others wait for that day, in the draw's order.
    waiting = list(
        WaitlistEntry.objects.filter(state="waiting")
        .order_by("created_at", "pk")
        .values_list("applicant_id", "date_from", "date_to")
    )
    day = opening_slots[0].starts_at.astimezone(timezone.get_current_timezone()).date()
    assert waiting == [(e.applicant_id, day, day) for e in lost]
    # Each is told: the drawn by their booking's confirmation, the others by `ballot_lost`.
    for entry in won:
        assert Notification.objects.filter(
            booking=entry.booking, kind="booking_confirmed", channel="sms"
        ).exists()
    told = Notification.objects.filter(kind="ballot_lost", channel="sms")
    assert sorted(told.values_list("applicant_id", flat=True)) == sorted(
        e.applicant_id for e in lost
    )
    assert all(n.context["waitlisted"] for n in told)
    assert integrity_violations() == {}


def test_a_second_draw_changes_nothing(opening_slots):
    for _ in range(3):
        _enter(ApplicantFactory(), opening_slots[0])
    ballots_draw(now=_midnight(10))
    before = list(BallotEntry.objects.values_list("pk", "state", "position", "booking_id"))

    result = ballots_draw(now=_midnight(11))

    assert (result.won, result.lost, result.void) == (0, 0, 0)
    assert list(BallotEntry.objects.values_list("pk", "state", "position", "booking_id")) == before


def test_nothing_is_drawn_before_the_ballot_closes(opening_slots, applicant):
    _enter(applicant, opening_slots[0])
    assert ballots_draw(now=_midnight(9)).won == 0
    assert BallotEntry.objects.get().state == "pending"


def test_one_client_sending_fifty_requests_has_the_same_chance_as_one_sending_one(
    opening_day, bhopal_photo
):
    """One seat, two applicants: A asks fifty times, B once. Drawn again and again on the real
    database (each round rolled back), A wins about half the rounds, not fifty in fifty-one."""
    seat = SlotFactory(offering=bhopal_photo, starts_at=local_dt(opening_day, 12), capacity=1)
    eager, patient = ApplicantFactory(), ApplicantFactory()
    for n in range(50):
        _enter(eager, seat, minutes=n % 9)
    _enter(patient, seat, minutes=9)
    rounds, wins = 120, Counter()
    for _ in range(rounds):
        with transaction.atomic():
            ballots_draw(now=_midnight(10))
            winner = BallotEntry.objects.get(state="won").applicant_id
            wins[winner] += 1
            transaction.set_rollback(True)
    # Binomial(120, 1/2): mean 60, sd 5.5; 33..87 is nearly five sd either way.
    assert 33 <= wins[eager.pk] <= 87, wins
    assert wins[eager.pk] + wins[patient.pk] == rounds


def test_the_draw_order_is_uniform():
    """Every one of 4 entries comes first about a quarter of the time (χ² on 4,000 draws)."""
    rng = random.Random(20261201)
    firsts = Counter(draw_order([1, 2, 3, 4], rng)[0] for _ in range(4000))
    chi2 = sum((firsts[k] - 1000) ** 2 / 1000 for k in (1, 2, 3, 4))
    assert chi2 < 16.3, firsts  # p = 0.001 for 3 degrees of freedom


def test_a_request_that_can_no_longer_book_is_void(opening_slots, bhopal_photo, applicant):
    _enter(applicant, opening_slots[0])
    # Booked another day of the service directly (allowed: that day is not in a ballot).
    other = SlotFactory(offering=bhopal_photo)
    booking_create(applicant=applicant, slot_id=other.pk)

    result = ballots_draw(now=_midnight(10))

    entry = BallotEntry.objects.get()
    assert (result.void, entry.state) == (1, "void")
    assert entry.why
    assert Booking.objects.filter(applicant=applicant).count() == 1


def test_after_the_close_the_day_waits_for_its_draw(opening_slots, applicant, other_applicant):
    _enter(applicant, opening_slots[0])
    assert ballot_undrawn(slot=opening_slots[0], now=_midnight(10))
    with pytest.raises(errors.BallotOpen):
        booking_create(applicant=other_applicant, slot_id=opening_slots[0].pk, now=_midnight(10))

    ballots_draw(now=_midnight(10))

    booking = booking_create(
        applicant=other_applicant, slot_id=opening_slots[0].pk, now=_midnight(11)
    )
    assert booking.slot_id == opening_slots[0].pk


def test_a_move_into_the_opening_day_waits_for_the_ballot(opening_slots, bhopal_photo, applicant):
    booking = booking_create(applicant=applicant, slot_id=SlotFactory(offering=bhopal_photo).pk)
    with pytest.raises(errors.BallotOpen):
        booking_reschedule(booking=booking, slot_id=opening_slots[0].pk, now=_midnight(4))


def test_the_waiting_list_is_not_offered_the_opening_days_seats(opening_slots, applicant):
    entry = WaitlistEntry.objects.create(
        applicant=applicant,
        office=opening_slots[0].office,
        service=opening_slots[0].service,
        date_from=timezone.localdate(),
        date_to=timezone.localdate(opening_slots[0].starts_at),
    )
    made = offers_make(office_id=entry.office_id, service_id=entry.service_id, now=_midnight(5))
    assert made == []
    assert Slot.objects.filter(held_offers__gt=0).count() == 0


def test_availability_says_until_when_the_ballot_is_open(opening_slots, opening_day):
    offering = opening_slots[0].offering
    (day,) = availability_for_office(
        offering=offering, date_from=opening_day, date_to=opening_day, now=_midnight(2)
    )
    assert day.ballot_until == _midnight(10)
    (later,) = availability_for_office(
        offering=offering, date_from=opening_day, date_to=opening_day, now=_midnight(10)
    )
    assert later.ballot_until is None


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("waitlisted", [True, False])
def test_the_lost_message_names_the_day_and_says_what_follows(opening_slots, language, waitlisted):
    entry = _enter(ApplicantFactory(preferred_language=language), opening_slots[0])
    entry.waitlist_entry_id = 1 if waitlisted else None  # only what the message says of it

    rows = ballot_lost_messages_write(entries=[entry])

    assert {r.channel for r in rows} == {"sms", "email"}
    context = rows[0].context
    sms = render_notification(kind="ballot_lost", channel="sms", language=language, context=context)
    email = render_notification(
        kind="ballot_lost", channel="email", language=language, context=context
    )
    day = f"{entry.day.day} "
    assert day in sms.body and day in email.subject
    office = entry.office.name_hi if language == "hi" else entry.office.name
    assert office in sms.body and office in email.body
    assert (("waiting list" in sms.body) or ("प्रतीक्षा सूची" in sms.body)) is waitlisted
    assert (settings.SITE_URL in sms.body) is not waitlisted
    assert sms_length(sms.body).segments <= 2


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("waitlisted", [True, False])
def test_the_lost_sms_keeps_its_budget_with_the_longest_names(settings, language, waitlisted):
    """The longest office and service, 30 October (the longest Hindi month): one English SMS
    without a link, two with one; Hindi (UCS-2) two, three with a link."""
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    context = {
        "office": {"code": "MP-49", "name": LONG_OFFICE[0], "name_hi": LONG_OFFICE[1]},
        "service": {"slug": "learner-test", "name": LONG_SERVICE[0], "name_hi": LONG_SERVICE[1]},
        "slot": {"starts_at": "2026-10-30T10:30:00+05:30", "ends_at": "2026-10-30T11:00:00+05:30"},
        "links": {"site": settings.SITE_URL},
        "waitlisted": waitlisted,
    }
    text = render_notification(
        kind="ballot_lost", channel="sms", language=language, context=context
    ).body
    assert sms_length(text).segments <= BUDGET[(language, not waitlisted)], text
    assert "30" in text


def test_metrics_count_the_requests_by_state_in_the_waiting_list_query(
    opening_slots, django_assert_num_queries
):
    for _ in range(5):
        _enter(ApplicantFactory(), opening_slots[0])
    ballots_draw(now=_midnight(10))
    late = SlotFactory(
        offering=opening_slots[0].offering,
        starts_at=local_dt(timezone.localdate(opening_slots[0].starts_at), 12),
    )
    _enter(ApplicantFactory(), late)  # asked in time, not drawn yet

    with django_assert_num_queries(1):
        families = {family.name: family for family in _waitlist_metrics()}

    samples = {s.labels["state"]: s.value for s in families["rto_ballot_requests"].samples}
    assert samples == {"pending": 1, "won": 4, "lost": 1, "void": 0}
    assert families["rto_waitlist_waiting"].samples[0].value == 1


def test_the_beat_task_draws_each_closed_ballot_in_a_task_of_its_own(
    opening_slots, indore_photo, opening_day
):
    from slots.tasks import draw_ballots_task

    indore = SlotFactory(offering=indore_photo, starts_at=local_dt(opening_day, 10), capacity=1)
    for slot in (opening_slots[0], opening_slots[0], indore, indore):
        _enter(ApplicantFactory(), slot)
    BallotEntry.objects.update(closes_at=timezone.now() - timedelta(seconds=1))

    assert draw_ballots_task() == 2  # Bhopal's and Indore's, each published (eager in tests)

    states = Counter(BallotEntry.objects.values_list("office__code", "state"))
    assert states == {("MP-04", "won"): 2, ("MP-09", "won"): 1, ("MP-09", "lost"): 1}
    assert draw_ballots_task() == 0


def test_two_lost_ballots_of_one_applicant_are_two_messages_both_sent(
    opening_slots, learner, bhopal, opening_day, settings
):
    """Lost for two services at once: both results go out (only a resent one-time code
    replaces an unsent one of its kind)."""
    from notifications.dispatcher import notifications_dispatch
    from tests.factories import OfferingFactory

    theory = SlotFactory(
        offering=OfferingFactory(office=bhopal, service=learner),
        starts_at=local_dt(opening_day, 10),
        capacity=0,
    )
    applicant = ApplicantFactory(email="")
    for slot in (opening_slots[0], theory):
        _enter(applicant, slot)
    Slot.objects.filter(pk__in=[s.pk for s in opening_slots]).update(booked=F("capacity"))

    ballots_draw(now=_midnight(10))
    Notification.objects.update(next_attempt_at=timezone.now())
    notifications_dispatch()

    rows = Notification.objects.filter(applicant=applicant, kind="ballot_lost")
    assert sorted(rows.values_list("status", flat=True)) == ["sent", "sent"]
