"""Bad filters and dates in the admin: Django's "bad filter" answer or a form error, no 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from slots.models import Outage

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiet(root_client):
    root_client.raise_request_exception = False
    return root_client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/slots/booking/?slot__starts_at__year=9999",
        "/admin/slots/booking/?slot__starts_at__year=9999&slot__starts_at__month=12"
        "&slot__starts_at__day=31",
        "/admin/slots/slot/?starts_at__year=9999",
        "/admin/slots/outage/?starts_at__year=9999",
        "/admin/slots/closure/?date__year=9999",
        "/admin/slots/extrasession/?date__year=9999",
    ],
)
def test_year_9999_in_a_date_filter_answers_the_bad_filter_redirect(quiet, url):
    response = quiet.get(url)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/slots/booking/?slot__starts_at__year=%00",
        "/admin/slots/booking/?q=%00",
        "/admin/slots/booking/?status=%00",
        "/admin/applicants/applicant/?q=%00",
        "/admin/slots/booking/day-sheet/?office=%00&service=photo-biometrics&date=2026-01-01",
    ],
)
def test_nul_byte_in_an_admin_filter_answers_400(quiet, url):
    assert quiet.get(url).status_code == 400


def test_day_sheet_of_year_9999_is_a_form_error(quiet, bhopal, photo_bhopal):
    response = quiet.get(
        "/admin/slots/booking/day-sheet/",
        {"office": "MP-04", "service": "photo-biometrics", "date": "9999-12-31"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["date"] == ["Enter a date from 2000 to 2099."]


def test_mark_down_with_an_end_in_year_9999_is_a_form_error(quiet, bhopal, photo_bhopal):
    now = timezone.localtime()
    response = quiet.post(
        "/admin/slots/outage/add/",
        {
            "offices": [bhopal.pk],
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "expected_end": "9999-12-31T23:59",
            "capacity_percent": "0",
            "standard_reason": "",
            "reason": "Server down",
            "reason_hi": "सर्वर बंद",
            "_confirm": "1",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["expected_end"] == ["Enter a time from 2000 to 2099."]
    assert not Outage.objects.exists()


def test_extend_an_outage_ending_late_in_2099_answers_no_500(quiet, bhopal, photo_bhopal):
    from tests.admin.conftest import record_outage

    outage = record_outage([bhopal], timezone.localdate() + timedelta(days=3))
    Outage.objects.filter(pk=outage.pk).update(
        expected_end=timezone.make_aware(timezone.datetime(2099, 12, 31, 22, 0))
    )
    response = quiet.post(f"/admin/slots/outage/{outage.pk}/extend/", {"hours": "72"})
    assert response.status_code < 500


def test_search_uses_at_most_the_configured_number_of_terms(root_client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.ADMIN_SEARCH_MAX_TERMS = 3
    with CaptureQueriesContext(connection) as queries:
        response = root_client.get("/admin/slots/booking/", {"q": " ".join(["x"] * 700)})
    assert response.status_code == 200
    longest = max(len(query["sql"]) for query in queries.captured_queries)
    with CaptureQueriesContext(connection) as few:
        root_client.get("/admin/slots/booking/", {"q": "x x x"})
    assert longest == max(len(query["sql"]) for query in few.captured_queries)
