"""Licence deadlines before FIFO (DESIGN.md, "Outages as they really happen"; issue part 4):
a driving test is booked with the learner licence's date, and an outage's move gives a booking
whose licence would run out before its FIFO seat the earliest seat inside its window first;
with none, it needs a new slot and is on the office's call list. Real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone, translation

from applicants.models import Applicant
from slots.integrity import integrity_violations
from slots.models import Booking, Slot
from slots.selectors import call_list
from slots.services.bookings import booking_create
from slots.services.outages import outage_create, outage_preview
from slots.services.slot_generation import slots_generate
from tests.applicants.conftest import sign_in
from tests.factories import ApplicantFactory, OfferingFactory, daily_sessions, local_dt

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _day(offset: int):
    return timezone.localdate() + offset * DAY


def _issued_for_last_day(offset: int):
    """The learner-licence date whose last driving-test day is `offset` days from today."""
    return _day(offset) - timedelta(days=settings.LEARNER_LICENCE_VALID_DAYS)


def _ready(**kwargs):
    return ApplicantFactory(learner_licence_issued_on=_day(-40), **kwargs)


def _slot(offering, offset: int, hour: int, minute: int = 0) -> Slot:
    return Slot.objects.get(offering=offering, starts_at=local_dt(_day(offset), hour, minute))


@pytest.fixture
def driving_bhopal(bhopal, driving):
    offering = OfferingFactory(office=bhopal, service=driving)
    daily_sessions(offering, end=(11, 0), seats=2, reserve=0)  # 10:00 and 10:30, 2 seats each
    slots_generate(days=8)
    return offering


@pytest.fixture
def crowded(driving_bhopal):
    """Tomorrow: A1, A2 at 10:00 (licences good for months), B (licence's last day in 2 days)
    and C (last day tomorrow) at 10:30. The day after: one seat left, at 10:30."""
    o = driving_bhopal
    people = {
        "A1": _ready(full_name="Asha One"),
        "A2": _ready(full_name="Asha Two"),
        "B": ApplicantFactory(
            full_name="Bina Deadline", learner_licence_issued_on=_issued_for_last_day(2)
        ),
        "C": ApplicantFactory(
            full_name="Chandan Expiring",
            learner_licence_issued_on=_issued_for_last_day(1),
            preferred_language="hi",
        ),
    }
    bookings = {
        "A1": booking_create(applicant=people["A1"], slot_id=_slot(o, 1, 10).pk),
        "A2": booking_create(applicant=people["A2"], slot_id=_slot(o, 1, 10).pk),
        "B": booking_create(applicant=people["B"], slot_id=_slot(o, 1, 10, 30).pk),
        "C": booking_create(applicant=people["C"], slot_id=_slot(o, 1, 10, 30).pk),
    }
    for slot in (_slot(o, 2, 10), _slot(o, 2, 10), _slot(o, 2, 10, 30)):
        booking_create(applicant=_ready(), slot_id=slot.pk)
    return bookings


def _tomorrow_down(bhopal, driving):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return outage_create(
            offices=[bhopal],
            services=[driving],
            starts_at=local_dt(_day(1), 0),
            expected_end=local_dt(_day(2), 0),
            reason="Licence server down",
            reason_hi="लाइसेंस सर्वर बंद",
        )


def test_a_licence_running_out_gets_the_last_seat_inside_its_window_before_fifo(
    bhopal, driving, driving_bhopal, crowded
):
    preview = outage_preview(
        offices=[bhopal],
        services=[driving],
        starts_at=local_dt(_day(1), 0),
        expected_end=local_dt(_day(2), 0),
    )
    assert (preview.would_move, preview.needs_new_slot) == (3, 1)  # the preview is the run

    _tomorrow_down(bhopal, driving)
    fresh = {k: Booking.objects.select_related("slot").get(pk=b.pk) for k, b in crowded.items()}
    # Plain FIFO would give A1 the one seat left the day after and B nothing before its
    # licence runs out; B's deadline comes first.
    assert fresh["B"].slot == _slot(driving_bhopal, 2, 10, 30)
    assert fresh["A1"].slot == _slot(driving_bhopal, 3, 10)
    assert fresh["A2"].slot == _slot(driving_bhopal, 3, 10)
    # C's licence ends tomorrow, inside the outage: no seat can keep it valid.
    assert fresh["C"].status == Booking.Status.NEEDS_NEW_SLOT
    assert all(fresh[k].status == Booking.Status.CONFIRMED for k in ("A1", "A2", "B"))
    assert integrity_violations() == {}


def test_who_needs_a_new_slot_is_on_the_office_call_list_with_the_licence_deadline(
    bhopal, indore, driving, driving_bhopal, crowded
):
    _tomorrow_down(bhopal, driving)
    with translation.override("en"):
        entries = call_list(office=bhopal)
    assert [e.booking.pk for e in entries] == [crowded["C"].pk]
    assert entries[0].why == "Licence server down"
    with translation.override("hi"):
        assert call_list(office=bhopal)[0].why == "लाइसेंस सर्वर बंद"
    assert entries[0].licence_last_day == _day(1)
    assert call_list(office=indore) == []


def test_a_driving_test_is_booked_only_with_the_learner_licence_date(applicant, driving_bhopal):
    from rest_framework.test import APIClient

    from applicants.tokens import applicant_token_issue

    applicant_api = APIClient()
    token = applicant_token_issue(applicant=applicant).token
    applicant_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    slot = _slot(driving_bhopal, 3, 10)
    url = "/api/v1/bookings/"
    response = applicant_api.post(url, {"slot": slot.pk}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "learner_licence_required"

    future = applicant_api.post(
        url, {"slot": slot.pk, "learner_licence_issued_on": _day(1).isoformat()}, format="json"
    )
    assert future.status_code == 400
    assert "future" in future.json()["fields"]["learner_licence_issued_on"][0]
    applicant.refresh_from_db()
    assert applicant.learner_licence_issued_on is None

    booked = applicant_api.post(
        url, {"slot": slot.pk, "learner_licence_issued_on": _day(-40).isoformat()}, format="json"
    )
    assert booked.status_code == 201, booked.content
    applicant.refresh_from_db()
    assert applicant.learner_licence_issued_on == _day(-40)


def test_the_applicant_sets_the_learner_licence_date_later_by_api(applicant, driving_bhopal):
    from rest_framework.test import APIClient

    from applicants.tokens import applicant_token_issue

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {applicant_token_issue(applicant=applicant).token}")
    url = "/api/v1/applicants/me/"
    bad = api.patch(url, {"learner_licence_issued_on": _day(3).isoformat()}, format="json")
    assert bad.status_code == 400 and "learner_licence_issued_on" in bad.json()["fields"]
    done = api.patch(url, {"learner_licence_issued_on": _day(-40).isoformat()}, format="json")
    assert done.status_code == 200
    assert done.json()["learner_licence_issued_on"] == _day(-40).isoformat()
    booked = api.post("/api/v1/bookings/", {"slot": _slot(driving_bhopal, 3, 10).pk}, format="json")
    assert booked.status_code == 201
    assert APIClient().patch(url, {}, format="json").status_code == 401


def test_registering_by_api_may_give_the_learner_licence_date(client):
    base = {"full_name": "Meera Patel", "date_of_birth": "1999-02-03", "mobile": "9826012345"}
    bad = client.post(
        "/api/v1/applicants/",
        {**base, "learner_licence_issued_on": "1998-01-01"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "learner_licence_issued_on" in bad.json()["fields"]
    good = client.post(
        "/api/v1/applicants/",
        {**base, "learner_licence_issued_on": _day(-10).isoformat()},
        content_type="application/json",
    )
    assert good.status_code == 201
    assert good.json()["learner_licence_issued_on"] == _day(-10).isoformat()
    number = good.json()["application_number"]
    assert Applicant.objects.get(application_number=number).learner_licence_issued_on == _day(-10)


@pytest.mark.parametrize(
    ("language", "asked", "invalid"),
    [
        ("en", "enter the date it was issued", "cannot be in the future"),
        ("hi", "जारी होने की तारीख", "भविष्य की नहीं"),
    ],
)
def test_the_booking_page_asks_for_the_learner_licence_date_when_missing(
    client, applicant, driving_bhopal, language, asked, invalid
):
    client.cookies.load({"django_language": language})
    sign_in(client, applicant)
    slot = _slot(driving_bhopal, 3, 10)
    url = reverse("applicants:book_confirm", args=[slot.pk])
    page = client.get(url).content.decode()
    assert 'name="learner_licence_issued_on"' in page and asked in page

    wrong = client.post(url, {"learner_licence_issued_on": _day(5).isoformat()})
    assert wrong.status_code == 400 and invalid in wrong.content.decode()
    assert not Booking.objects.filter(applicant=applicant).exists()

    done = client.post(url, {"learner_licence_issued_on": _day(-40).strftime("%d-%m-%Y")})
    booking = Booking.objects.get(applicant=applicant)
    assert done.status_code == 302 and booking.slot == slot
    applicant.refresh_from_db()
    assert applicant.learner_licence_issued_on == _day(-40)
    # Known now: the next driving test is booked without asking again.
    assert 'name="learner_licence_issued_on"' not in client.get(url).content.decode()


def test_the_details_page_records_and_corrects_the_learner_licence_date(client, applicant):
    sign_in(client, applicant)
    url = reverse("applicants:my_details")
    assert applicant.application_number in client.get(url).content.decode()
    assert client.post(url, {"learner_licence_issued_on": "not a date"}).status_code == 400
    response = client.post(url, {"learner_licence_issued_on": _day(-20).isoformat()}, follow=True)
    assert "Your learner licence date is saved." in response.content.decode()
    applicant.refresh_from_db()
    assert applicant.learner_licence_issued_on == _day(-20)
