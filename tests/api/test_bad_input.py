"""Bad input never answers 500 under /api/: deep JSON, large bodies, NUL bytes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def quiet_api():
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize(
    "url", ["/api/v1/applicants/", "/api/v1/auth/applicant/", "/api/v1/bookings/"]
)
def test_json_nested_1000_deep_answers_400_invalid(quiet_api, applicant_api, url):
    client = applicant_api if url == "/api/v1/bookings/" else quiet_api
    client.raise_request_exception = False
    response = client.post(url, DEEP, content_type="application/json")
    assert_error(response, 400, "invalid")


def test_body_over_the_limit_answers_413_too_large(quiet_api):
    body = '{"full_name": "' + "a" * 2_700_000 + '"}'
    response = quiet_api.post("/api/v1/applicants/", body, content_type="application/json")
    assert_error(response, 413, "too_large")


def test_body_limit_is_a_setting(quiet_api, settings):
    settings.API_MAX_BODY_BYTES = 100
    body = '{"full_name": "' + "a" * 200 + '"}'
    response = quiet_api.post("/api/v1/applicants/", body, content_type="application/json")
    assert_error(response, 413, "too_large")


def test_body_under_the_limit_is_parsed(quiet_api):
    response = quiet_api.post("/api/v1/applicants/", {"full_name": "A"}, format="json")
    assert_error(response, 400, "invalid")


def test_nul_byte_in_api_path_answers_400_with_the_error_shape(quiet_api):
    assert_error(quiet_api.get("/api/v1/offices/MP-04%00/"), 400, "invalid")
    assert_error(quiet_api.get("/api/v1/outages/?office=%00"), 400, "invalid")


def test_long_email_answers_400(quiet_api):
    response = quiet_api.post(
        "/api/v1/applicants/",
        {
            "full_name": "Asha Verma",
            "date_of_birth": "2000-01-01",
            "mobile": "9826012345",
            "email": "a" * 250 + "@example.com",
            "preferred_language": "en",
        },
        format="json",
    )
    body = assert_error(response, 400, "invalid")
    assert "email" in body["fields"]
