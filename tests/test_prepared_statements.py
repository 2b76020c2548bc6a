"""The booking hot path's fixed queries run as prepared statements on PostgreSQL
(rto_booking/db.py); DATABASE_PREPARED_STATEMENTS=false turns them off."""

import pytest
from django.db import connection

from applicants.tokens import applicant_by_id
from rto_booking.db import prepared_cursor
from slots.rules import slot_with_checks
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


def test_a_bad_switch_fails_at_start_naming_the_variable():
    result = _start(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        DATABASE_PREPARED_STATEMENTS="sometimes",
    )
    assert result.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS" in result.stderr
