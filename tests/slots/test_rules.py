"""`slot_with_checks` has a hand-written PostgreSQL form and a portable ORM form (SQLite, the
`make run` default): both must give the same slot and the same answers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from slots.models import Closure, Outage
from slots.rules import _slot_with_checks_orm, _slot_with_checks_sql
from slots.services.bookings import booking_create
from tests.factories import SlotFactory, local_dt

pytestmark = pytest.mark.django_db

ANSWERS = (
    "pk",
    "office_id",
    "service_id",
    "starts_at",
    "capacity",
    "booked",
    "closure_id",
    "outage_id",
    "holds_active",
)


def _answers(slot):
    related = (slot.office.code, slot.service.slug, slot.offering.pk)
    return (*(getattr(slot, name) for name in ANSWERS), *related)


def test_sql_and_orm_forms_agree(bhopal_photo, bhopal, learner, applicant, other_applicant):
    day = timezone.localdate() + timedelta(days=3)
    plain = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10))
    booked = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 11))
    closed = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day + timedelta(days=1), 10))
    down = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day + timedelta(days=2), 10))
    booking_create(applicant=applicant, slot_id=booked.pk)
    Closure.objects.create(office=bhopal, date=day + timedelta(days=1), reason="Holi")
    outage = Outage.objects.create(
        reason="down", starts_at=down.starts_at, expected_end=down.ends_at
    )
    outage.offices.add(bhopal)
    other_service_outage = Outage.objects.create(
        reason="learner down", starts_at=plain.starts_at, expected_end=plain.ends_at
    )
    other_service_outage.offices.add(bhopal)
    other_service_outage.services.add(learner)

    seen = set()
    for slot in (plain, booked, closed, down):
        for applicant_id in (None, applicant.pk, other_applicant.pk):
            sql = _slot_with_checks_sql(slot_id=slot.pk, applicant_id=applicant_id)
            orm = _slot_with_checks_orm(slot_id=slot.pk, applicant_id=applicant_id)
            assert _answers(sql) == _answers(orm)
            seen.add((sql.closure_id is not None, sql.outage_id is not None, sql.holds_active))
    # Every answer was exercised both ways.
    assert {(True, False, False), (False, True, False), (False, False, True)} <= seen
    assert (False, False, False) in seen
