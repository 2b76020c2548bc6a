"""Statements a connection runs again and again are prepared by psycopg, through Django's own
`server_side_binding` option (DATABASE_PREPARED_STATEMENTS, default true); false binds
parameters client-side and prepares nothing (PgBouncer in transaction mode before 1.21)."""

import pytest
from django.db import connection

from slots import hotpath
from slots.services.bookings import booking_create
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory
from tests.test_settings_env import _start

pytestmark = pytest.mark.django_db


def prepared_here() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_the_settings_bind_server_side_and_prepare():
    options = connection.settings_dict["OPTIONS"]
    assert options["server_side_binding"] is True and options["prepare_threshold"] == 5


def test_hot_path_statements_are_prepared_once_per_connection(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=20)
    before = prepared_here()
    for _ in range(8):
        hotpath.slot_with_checks(slot_id=slot.pk, applicant_id=None)
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    new = prepared_here() - before
    assert any("slots_closure" in sql for sql in new)  # the slot with its checks
    assert any("WITH seat AS" in sql for sql in new)  # the one-statement booking
    assert len([sql for sql in new if "WITH seat AS" in sql]) == 1  # once, however often


@pytest.mark.django_db(transaction=True)
def test_switched_off_nothing_is_prepared(bhopal_photo, monkeypatch):
    options = {
        key: value
        for key, value in connection.settings_dict["OPTIONS"].items()
        if key not in {"server_side_binding", "prepare_threshold"}
    }
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    connection.close()
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=20)
    for _ in range(8):
        hotpath.slot_with_checks(slot_id=slot.pk, applicant_id=None)
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    assert prepared_here() == set()
    connection.close()  # the next test connects with the settings' options again


def test_a_bad_switch_fails_at_start_naming_the_variable():
    result = _start(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        DATABASE_PREPARED_STATEMENTS="sometimes",
    )
    assert result.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS" in result.stderr
