"""No-show rates per office × service × week (slots.selectors.no_show_rates): one query."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from slots.models import Booking
from slots.selectors import no_show_rates
from tests.factories import BookingFactory, OfferingFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 26)  # a Thursday: this week began on Monday 23 Nov
THIS_MONDAY = date(2026, 11, 23)
LAST_MONDAY = date(2026, 11, 16)
ATTENDED, NO_SHOW = Booking.Status.ATTENDED, Booking.Status.NO_SHOW


def _book(offering, day, hour, *statuses, minute=0):
    slot = SlotFactory(offering=offering, starts_at=local_dt(day, hour, minute), capacity=50)
    for status in statuses:
        BookingFactory(slot=slot, status=status)


@pytest.fixture
def history(bhopal, indore, photo, driving, bhopal_photo, indore_photo):
    bhopal_driving = OfferingFactory(office=bhopal, service=driving)
    # Photo, last week: 3 attended and 1 no-show, the no-show's slot early on Monday (India
    # time; still Sunday in UTC), so the week is India's.
    _book(bhopal_photo, LAST_MONDAY, 0, NO_SHOW, minute=30)
    _book(bhopal_photo, LAST_MONDAY + timedelta(days=2), 10, ATTENDED, ATTENDED, ATTENDED)
    # Photo, this week: 1 attended and 1 no-show, and one still confirmed (not counted).
    _book(bhopal_photo, THIS_MONDAY, 10, ATTENDED, NO_SHOW, Booking.Status.CONFIRMED)
    # Driving, this week: 2 no-shows out of 2.
    _book(bhopal_driving, THIS_MONDAY + timedelta(days=1), 11, NO_SHOW, NO_SHOW)
    # Before the 8 weeks: not counted.
    _book(bhopal_photo, THIS_MONDAY - timedelta(weeks=8), 10, NO_SHOW)
    # Indore: its own table.
    _book(indore_photo, THIS_MONDAY, 10, ATTENDED)


def _cells(table, slug):
    (row,) = [row for row in table.rows if row.service.slug == slug]
    return {
        monday: (cell.no_shows, cell.attended, cell.rate)
        for monday, cell in zip(table.weeks, row.cells, strict=True)
        if cell.seen
    }


def test_no_show_rates_count_each_service_per_india_week_in_one_query(
    history, bhopal, django_assert_num_queries
):
    with django_assert_num_queries(1):
        (table,) = no_show_rates(office_ids=[bhopal.pk], today=TODAY)

    assert table.office.code == "MP-04"
    assert table.weeks[0] == THIS_MONDAY - timedelta(weeks=7)
    assert table.weeks[-1] == THIS_MONDAY and len(table.weeks) == 8
    # Services in display order (sort_order, then code).
    assert [row.service.slug for row in table.rows] == ["driving-test", "photo-biometrics"]
    assert _cells(table, "photo-biometrics") == {
        LAST_MONDAY: (1, 3, 0.25),
        THIS_MONDAY: (1, 1, 0.5),
    }
    assert _cells(table, "driving-test") == {THIS_MONDAY: (2, 0, 1.0)}


def test_no_show_rates_of_every_office_for_none_and_only_offices_with_appointments(
    history, indore, bhopal
):
    tables = no_show_rates(office_ids=None, today=TODAY)
    assert [table.office.code for table in tables] == ["MP-04", "MP-09"]
    assert _cells(tables[1], "photo-biometrics") == {THIS_MONDAY: (0, 1, 0.0)}
    assert no_show_rates(office_ids=[], today=TODAY) == []


def test_a_week_without_appointments_has_no_rate(history, bhopal):
    (table,) = no_show_rates(office_ids=[bhopal.pk], today=TODAY)
    (photo_row,) = [row for row in table.rows if row.service.slug == "photo-biometrics"]
    empty = photo_row.cells[0]
    assert (empty.seen, empty.rate, empty.percent) == (0, None, None)
    assert photo_row.cells[-2].percent == 25
