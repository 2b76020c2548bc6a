"""/metrics: attended and no-show counters by office and service, in the bookings query."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from slots.metrics import database_metrics
from slots.models import Booking
from tests.conftest import in_days
from tests.factories import BookingFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(bhopal_photo, indore_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(-2, 10), capacity=5)
    BookingFactory(slot=slot, status=Booking.Status.NO_SHOW)
    BookingFactory(slot=slot, status=Booking.Status.NO_SHOW)
    BookingFactory(slot=slot, status=Booking.Status.ATTENDED)
    BookingFactory(slot=SlotFactory(offering=indore_photo, starts_at=in_days(-2, 11)))


def test_database_metrics_count_no_shows_and_attended_without_another_query(
    seen, django_assert_num_queries
):
    # Three queries as before: bookings (now by office and service too), outages, waiting list.
    with django_assert_num_queries(3):
        families = {family.name: family for family in database_metrics()}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for name in ("rto_bookings", "rto_bookings_no_show", "rto_bookings_attended")
        for sample in families[name].samples
    }
    where = (("office", "MP-04"), ("service", "photo-biometrics"))
    assert samples[("rto_bookings_no_show_total", where)] == 2
    assert samples[("rto_bookings_attended_total", where)] == 1
    assert samples[("rto_bookings", (("status", "no_show"),))] == 2
    assert samples[("rto_bookings", (("status", "confirmed"),))] == 1


def test_metrics_page_shows_the_no_show_and_attended_counters(client, seen, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_DB_CACHE_SECONDS = 0
    text = client.get("/metrics").content.decode()
    types = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert types["rto_bookings_no_show"] == "counter"
    assert types["rto_bookings_attended"] == "counter"
    assert 'rto_bookings_no_show_total{office="MP-04",service="photo-biometrics"} 2.0' in text
    assert 'rto_bookings_attended_total{office="MP-04",service="photo-biometrics"} 1.0' in text
