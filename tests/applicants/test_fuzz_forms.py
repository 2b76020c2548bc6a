"""Property-based run of the page forms and the admin's filters (beside the API's schemathesis
run, tests/api/test_schemathesis.py): whatever is typed or put in a URL, no answer is a 5xx."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.applicants.conftest import sign_in

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Anything a browser can send: every code point but lone surrogates (not encodable in UTF-8).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
dates = st.one_of(
    text,
    st.dates().map(str),
    st.sampled_from(["9999-12-31", "0001-01-01", "31-12-9999", "2026-02-30", "\x00"]),
)


def _quiet(client: Client) -> Client:
    client.raise_request_exception = False
    return client


@FUZZ
@given(
    full_name=text,
    date_of_birth=dates,
    mobile=text,
    email=st.one_of(text, st.emails().map(lambda e: "a" * 250 + e)),
    language=text,
    licence=dates,
)
def test_register_form_never_answers_5xx(
    client, full_name, date_of_birth, mobile, email, language, licence
):
    response = _quiet(client).post(
        "/register/",
        {
            "full_name": full_name,
            "date_of_birth": date_of_birth,
            "mobile": mobile,
            "email": email,
            "preferred_language": language,
            "learner_licence_issued_on": licence,
        },
    )
    assert response.status_code < 500


@FUZZ
@given(number=text, born=dates, next_url=text)
def test_signin_form_never_answers_5xx(client, number, born, next_url):
    response = _quiet(client).post(
        "/signin/", {"application_number": number, "date_of_birth": born, "next": next_url}
    )
    assert response.status_code < 500


@FUZZ
@given(licence=dates, segment=text)
def test_signed_in_pages_never_answer_5xx(applicant, bhopal_photo, licence, segment):
    client = _quiet(sign_in(Client(), applicant))
    assert client.post("/my/details/", {"learner_licence_issued_on": licence}).status_code < 500
    for url in (
        "/book/{}/",
        "/book/MP-04/{}/",
        "/my/bookings/{}/",
        "/my/bookings/{}/calendar.ics",
        "/my/bookings/{}/reschedule/",
        "/my/cancel/{}/",
        "/yes/{}",
        "/no/{}",
        "/my/bookings/{}/come/",
    ):
        assert (
            client.get(
                url.format(segment.replace("/", "").replace("?", "")), {"q": segment}
            ).status_code
            < 500
        )


ADMIN_LISTS = {
    "/admin/slots/booking/": [
        "slot__starts_at__year",
        "slot__starts_at__month",
        "slot__starts_at__day",
        "status__exact",
        "office__id__exact",
        "priority__exact",
        "q",
        "o",
        "p",
    ],
    "/admin/slots/outage/": ["starts_at__year", "starts_at__month", "state__exact", "q"],
    "/admin/slots/slot/": ["starts_at__year", "starts_at__month", "starts_at__day", "q"],
    "/admin/slots/closure/": ["date__year", "date__month", "q"],
    "/admin/applicants/applicant/": ["preferred_language__exact", "q"],
}


@FUZZ
@given(
    url=st.sampled_from(sorted(ADMIN_LISTS)),
    data=st.data(),
)
def test_admin_filters_never_answer_5xx(superuser, url, data):
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    keys = data.draw(st.lists(st.sampled_from(ADMIN_LISTS[url]), min_size=1, max_size=4))
    values = st.one_of(text, st.integers(-10, 100000).map(str), st.just("9999"))
    params = {key: data.draw(values) for key in keys}
    assert client.get(url, params).status_code < 500


@FUZZ
@given(office=text, service=text, day=dates)
def test_admin_day_sheet_never_answers_5xx(superuser, bhopal_photo, office, service, day):
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    params = {"office": office, "service": service, "date": day}
    assert client.get("/admin/slots/booking/day-sheet/", params).status_code < 500
    assert client.get("/admin/slots/booking/call-list/", params).status_code < 500


moments = st.one_of(
    text,
    st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M")),
    st.sampled_from(["9999-12-31T23:59", "0001-01-01T00:00", "2099-12-31T23:59", "\x00"]),
)


@FUZZ
@given(starts_at=moments, expected_end=moments, percent=text, reason=text, button=st.booleans())
def test_admin_mark_down_never_answers_5xx(
    superuser, bhopal_photo, starts_at, expected_end, percent, reason, button
):
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    data = {
        "offices": [bhopal_photo.office_id],
        "starts_at": starts_at,
        "expected_end": expected_end,
        "capacity_percent": percent,
        "reason": reason,
        "reason_hi": reason,
        "_confirm" if button else "_preview": "1",
    }
    assert client.post("/admin/slots/outage/add/", data).status_code < 500
