"""The clerk admin's waiting list and offers: read-only lists, scoped to the clerk's offices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from slots.models import BallotEntry, Offer, WaitlistEntry
from slots.services.ballot_draw import ballots_draw
from slots.services.bookings import booking_cancel, booking_create
from slots.services.waitlist import offers_make, waitlist_join
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


def _waiting_with_offer(offering, name):
    slot = SlotFactory(offering=offering, starts_at=in_days(3, 11), capacity=1)
    holder = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    day = timezone.localdate(slot.starts_at)
    for suffix in ("first", "second"):
        waitlist_join(
            applicant=ApplicantFactory(full_name=f"{name} {suffix}"),
            office=slot.office,
            service=slot.service,
            date_from=day - timedelta(days=1),
            date_to=day,
        )
    booking_cancel(booking=holder)
    offers_make(office_id=slot.office_id, service_id=slot.service_id)
    return slot


def test_a_clerk_sees_the_waiting_list_and_offers_of_their_offices_only(
    bhopal_client, bhopal_photo, indore_photo
):
    _waiting_with_offer(bhopal_photo, "Bhopal applicant")
    _waiting_with_offer(indore_photo, "Indore applicant")

    entries = bhopal_client.get(reverse("admin:slots_waitlistentry_changelist"))
    assert entries.status_code == 200
    html = entries.content.decode()
    assert "Bhopal applicant first" in html and "Bhopal applicant second" in html
    assert "Indore applicant" not in html

    offers = bhopal_client.get(reverse("admin:slots_offer_changelist") + "?state=open")
    assert offers.status_code == 200
    html = offers.content.decode()
    assert "Bhopal applicant first" in html and "Indore applicant" not in html


def test_the_lists_are_read_only(bhopal_client, bhopal_photo, indore_photo):
    _waiting_with_offer(bhopal_photo, "Bhopal applicant")
    _waiting_with_offer(indore_photo, "Indore applicant")
    mine = WaitlistEntry.objects.filter(office__code="MP-04").first()
    theirs = Offer.objects.filter(slot__office__code="MP-09").first()
    page = bhopal_client.get(reverse("admin:slots_waitlistentry_change", args=[mine.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert bhopal_client.get(reverse("admin:slots_waitlistentry_add")).status_code == 403
    other = bhopal_client.get(reverse("admin:slots_offer_change", args=[theirs.pk]))
    assert other.status_code in (302, 404)


def test_a_clerk_sees_the_ballot_requests_of_their_offices_in_draw_order(
    bhopal_client, bhopal_photo, indore_photo
):
    from tests.slots.test_ballot import _enter, _midnight

    opening = timezone.localdate() + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    for offering, name in ((bhopal_photo, "Bhopal asker"), (indore_photo, "Indore asker")):
        slot = SlotFactory(offering=offering, starts_at=local_dt(opening, 10), capacity=1)
        for n in (1, 2):
            _enter(ApplicantFactory(full_name=f"{name} {n}"), slot)
    ballots_draw(now=_midnight(10))

    page = bhopal_client.get(reverse("admin:slots_ballotentry_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Bhopal asker 1" in html and "Bhopal asker 2" in html
    assert "Indore asker" not in html
    drawn = BallotEntry.objects.filter(office__code="MP-04").order_by("position")
    first, second = (e.applicant.full_name for e in drawn)
    assert html.index(first) < html.index(second)
    entry = drawn.first()
    change = bhopal_client.get(reverse("admin:slots_ballotentry_change", args=[entry.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert bhopal_client.get(reverse("admin:slots_ballotentry_add")).status_code == 403
