"""rto_booking/middleware.py: the policy headers built once per process are the ones django-csp
builds itself, and the JSON API skips the browser-only middleware that pages still run."""

import pytest
from csp.exceptions import CSPNonceError
from csp.utils import build_policy
from django.http import HttpResponse
from django.urls import include, path

from tests.factories import OfficeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.test_middleware")]


def page_with_inline_script(request):
    return HttpResponse(f'<script nonce="{request.csp_nonce}">go()</script>')


urlpatterns = [
    path("inline/", page_with_inline_script),
    path("", include("rto_booking.urls")),
]


@pytest.fixture(autouse=True)
def _an_office():
    OfficeFactory(code="MP-04")


def test_api_answers_carry_the_policy_django_csp_builds(client):
    response = client.get("/api/v1/offices/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == build_policy()
    assert "Content-Security-Policy-Report-Only" not in response  # none configured


def test_pages_without_a_nonce_get_the_same_policy(client):
    assert client.get("/")["Content-Security-Policy"] == build_policy()


def test_a_page_that_uses_its_nonce_still_gets_it_in_the_header(client):
    response = client.get("/inline/")
    nonce = response.content.decode().split('nonce="')[1].split('"')[0]
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
    assert response["Content-Security-Policy"] != build_policy()


def test_a_changed_policy_is_served_at_once(client, settings):
    old = client.get("/api/v1/offices/")["Content-Security-Policy"]  # built and kept
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    response = client.get("/api/v1/offices/")
    assert response["Content-Security-Policy"] == "default-src 'none'" != old
    assert response["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)
    assert "img-src 'self'" in response["Content-Security-Policy-Report-Only"]


def test_excluded_prefixes_are_left_to_django_csp(client, settings):
    settings.CONTENT_SECURITY_POLICY = {
        "EXCLUDE_URL_PREFIXES": ["/api/v1/"],
        "DIRECTIVES": {"default-src": ["'self'"]},
    }
    assert "Content-Security-Policy" not in client.get("/api/v1/offices/")
    assert client.get("/")["Content-Security-Policy"] == "default-src 'self'"


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error(client):
    response = client.get("/api/v1/offices/")
    with pytest.raises(CSPNonceError):
        str(response.wsgi_request.csp_nonce)


def test_the_json_api_sets_no_cookie_and_does_not_vary_on_one(client):
    response = client.get("/api/v1/offices/")
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_pages_and_the_api_docs_still_run_them(client):
    for path_ in ("/", "/api/docs/"):
        request = client.get(path_).wsgi_request
        assert hasattr(request, "session") and hasattr(request, "_messages"), path_
        assert hasattr(request, "user"), path_


def test_a_page_form_still_sets_its_csrf_cookie(client):
    response = client.get("/signin/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
