from datetime import timedelta

import pytest
from django.utils import timezone

from slots.services.outages import outage_create
from tests.api.conftest import assert_error
from tests.conftest import in_days
from tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/offices/MP-04/availability/"


def test_availability_lists_days_and_slots(api, bhopal_slot):
    day = timezone.localdate()
    response = api.get(URL, {"service": "photo-biometrics"})
    assert response.status_code == 200
    body = response.json()
    assert body["office"] == "MP-04" and body["service"] == "photo-biometrics"
    assert len(body["days"]) == 14
    assert body["days"][0]["date"] == day.isoformat()
    open_day = body["days"][3]
    assert open_day["status"] == "open"
    assert open_day["slots"] == [
        {
            "id": bhopal_slot.pk,
            "starts_at": (day + timedelta(days=3)).isoformat() + "T10:00:00+05:30",
            "ends_at": (day + timedelta(days=3)).isoformat() + "T10:30:00+05:30",
            "capacity": 2,
            "available": 2,
        }
    ]
    assert body["days"][0]["status"] == "closed"


def test_full_day_and_outage_day(api, bhopal, bhopal_photo, bhopal_slot):
    SlotFactory(offering=bhopal_photo, starts_at=in_days(5), capacity=1, booked=1)
    outage_create(
        offices=[bhopal], expected_end=in_days(3, 12), starts_at=in_days(3, 8), reason="x"
    )
    days = {
        d["date"]: d
        for d in api.get(
            URL, {"service": "photo-biometrics", "from": in_days(3).date(), "to": in_days(5).date()}
        ).json()["days"]
    }
    outage_day, closed_day, full_day = days.values()
    assert [outage_day["status"], closed_day["status"], full_day["status"]] == [
        "outage",
        "closed",
        "full",
    ]
    assert outage_day["slots"][0]["available"] == 0
    assert outage_day["reason"] == "x"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"service": "photo-biometrics", "from": "2026-02-30"},
        {"service": "photo-biometrics", "from": "tomorrow"},
        {"service": "photo-biometrics", "from": "2026-12-10", "to": "2026-12-01"},
        {"service": "photo-biometrics", "from": "2026-12-01", "to": "2027-02-01"},
        {"service": "driving-test"},
    ],
)
def test_bad_queries_answer_400_invalid(api, bhopal_photo, params):
    assert_error(api.get(URL, params), 400, "invalid")


def test_sixty_two_days_is_allowed(api, bhopal_photo):
    response = api.get(
        URL, {"service": "photo-biometrics", "from": "2026-12-01", "to": "2027-01-31"}
    )
    assert response.status_code == 200
    assert len(response.json()["days"]) == 62


def test_unknown_office_answers_404(api, bhopal_photo):
    assert_error(
        api.get("/api/v1/offices/MP-77/availability/", {"service": "photo-biometrics"}),
        404,
        "not_found",
    )


def test_availability_takes_a_bounded_number_of_queries(
    api, bhopal_photo, django_assert_max_num_queries
):
    for day in range(1, 10):
        for hour in (10, 11, 12):
            SlotFactory(offering=bhopal_photo, starts_at=in_days(day, hour))
    with django_assert_max_num_queries(5):
        assert api.get(URL, {"service": "photo-biometrics"}).status_code == 200
