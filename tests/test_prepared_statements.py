"""The booking hot path's fixed queries run as prepared statements on PostgreSQL
(rto_booking/db.py); DATABASE_PREPARED_STATEMENTS=false turns them off."""

import pytest
from django.db import connection

from applicants.tokens import applicant_by_id
from notifications.models import Notification
from rto_booking.db import prepared_cursor
from slots.models import Booking
from slots.rules import slot_with_checks
from slots.services.bookings import booking_create
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory
from tests.test_settings_env import _start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")


def prepared_here() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_hot_path_queries_are_prepared_once_per_connection(bhopal_photo):
    applicant = ApplicantFactory()
    slot = SlotFactory(offering=bhopal_photo)
    before = prepared_here()
    for _ in range(3):
        assert applicant_by_id(applicant.pk) == applicant
        assert slot_with_checks(slot_id=slot.pk, applicant_id=applicant.pk) == slot
    new = prepared_here() - before
    assert any("applicants_applicant" in sql for sql in new)
    assert any("slots_closure" in sql for sql in new)
    assert len(new) == 2  # each statement once, however often it ran


def test_an_ordinary_query_is_never_prepared(bhopal_photo):
    before = prepared_here()
    for _ in range(3):
        list(type(bhopal_photo).objects.filter(pk=bhopal_photo.pk))
    assert prepared_here() == before


def test_switched_off_the_hot_path_binds_client_side(bhopal_photo, monkeypatch):
    options = dict(connection.settings_dict["OPTIONS"])
    options.pop("prepare_threshold", None)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    applicant = ApplicantFactory()
    before = prepared_here()
    for _ in range(3):
        assert applicant_by_id(applicant.pk) == applicant
    assert prepared_here() == before
    with prepared_cursor() as cursor:
        assert "ServerBinding" not in type(cursor.cursor).__name__


def test_the_booking_statement_with_two_outbox_rows_is_prepared_once(bhopal_photo):
    """51 parameters (SMS and e-mail): numbered placeholders, so psycopg sends the text as written
    and PostgreSQL plans it once per connection, however many bookings use it."""
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=5)
    before = prepared_here()
    for _ in range(3):
        booking = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
        assert Notification.objects.filter(booking=booking).count() == 2
    new = [sql for sql in prepared_here() - before if "INSERT INTO" in sql]
    assert len(new) == 1 and "$51" in new[0] and "%s" not in new[0]


def test_switched_off_a_booking_is_written_unprepared(bhopal_photo, monkeypatch):
    """Behind a pooler that cannot keep prepared statements the booking statement is bound
    server-side but never prepared."""
    options = dict(connection.settings_dict["OPTIONS"])
    options.pop("prepare_threshold", None)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=5)
    before = prepared_here()
    for _ in range(3):
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    assert Booking.objects.filter(slot=slot).count() == 3
    assert prepared_here() == before


def test_a_bad_switch_fails_at_start_naming_the_variable():
    result = _start(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        DATABASE_PREPARED_STATEMENTS="sometimes",
    )
    assert result.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS" in result.stderr
