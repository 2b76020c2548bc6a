"""Friendly 404 and 500 pages that never show a stack trace."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_404_is_friendly_and_in_the_applicants_language(client):
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and "Traceback" not in html
    assert 'href="/"' in html
    hindi = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "पेज नहीं मिला" in hindi


@pytest.mark.parametrize("language, text", [("en", "Something went wrong"), ("hi", "कुछ गलत")])
def test_500_is_friendly_and_hides_the_details(settings, language, text):
    settings.ROOT_URLCONF = "tests.applicants.broken_urls"
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/broken/", HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 500
    assert text in html
    assert "secret internal detail" not in html
    assert "Traceback" not in html and "RuntimeError" not in html
