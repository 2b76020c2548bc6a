"""The /recover/ page: "forgot application number", with one neutral answer."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db

NEUTRAL = "If the details match, we have sent the number by SMS."


@pytest.fixture
def registered(db):
    return ApplicantFactory(
        mobile="+919826012345", date_of_birth=date(1995, 6, 15), mobile_verified_at=timezone.now()
    )


def test_the_sign_in_page_links_to_recovery(client):
    html = client.get(reverse("applicants:signin")).content.decode()
    assert f'href="{reverse("applicants:recover")}"' in html


def test_the_recover_page_labels_its_inputs(client):
    html = client.get(reverse("applicants:recover")).content.decode()
    for name in ("mobile", "date_of_birth"):
        assert f'for="id_{name}"' in html and f'id="id_{name}"' in html
    assert "csrfmiddlewaretoken" in html


def _answer(response) -> str:
    """The page's answer, from its heading to the end of the notice (the rest of the page
    holds per-visitor tokens)."""
    html = response.content.decode()
    start = html.index("<h1>")
    return html[start : html.index("</div>", start)]


def test_a_match_and_a_non_match_read_the_same(client, registered):
    url = reverse("applicants:recover")
    match = client.post(url, {"mobile": "98260 12345", "date_of_birth": "15-06-1995"})
    other = Client().post(url, {"mobile": "98260 99999", "date_of_birth": "15-06-1995"})
    assert match.status_code == other.status_code == 200
    assert NEUTRAL in match.content.decode()
    assert _answer(match) == _answer(other)
    assert registered.application_number not in match.content.decode()


def test_bad_input_shows_the_form_again_with_400(client):
    response = client.post(
        reverse("applicants:recover"), {"mobile": "123", "date_of_birth": "1995-06-15"}
    )
    assert response.status_code == 400
    assert 'id="form-problems"' in response.content.decode()


def test_too_many_requests_for_one_mobile_answer_429(client, settings):
    settings.RATE_LIMITS = "on"
    settings.RECOVER_PER_MOBILE = 2
    url = reverse("applicants:recover")
    data = {"mobile": "9826012345", "date_of_birth": "1995-06-15"}
    for _ in range(2):
        assert client.post(url, data).status_code == 200
    response = client.post(url, data)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert 'id="too-many-requests"' in response.content.decode()


def test_the_neutral_answer_speaks_hindi(client):
    response = client.post(
        reverse("applicants:recover"),
        {"mobile": "9826012345", "date_of_birth": "1995-06-15"},
        HTTP_ACCEPT_LANGUAGE="hi",
    )
    assert response.status_code == 200
    assert "हमने संख्या SMS से भेज दी है" in response.content.decode()


def test_the_page_queues_the_number_for_a_match_and_nothing_otherwise(client, registered):
    from notifications.models import Notification

    url = reverse("applicants:recover")
    client.post(url, {"mobile": "9826099999", "date_of_birth": "1995-06-15"})
    assert not Notification.objects.exists()
    client.post(url, {"mobile": "9826012345", "date_of_birth": "1995-06-15"})
    (row,) = Notification.objects.all()
    assert row.kind == Notification.Kind.APPLICATION_NUMBER and row.applicant == registered
