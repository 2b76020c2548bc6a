"""When somebody guesses dates of birth for an application number, its applicant is told by
SMS (kind `signin_guessed`) as the lockout reaches each step — once per step while the
failures are remembered — whether the guessing happens on the page or on the API."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Notification
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db

WRONG = "1990-01-01"


@pytest.fixture(autouse=True)
def _steps(settings):
    settings.RATE_LIMITS = "on"
    settings.SIGNIN_LOCKOUT_STEPS = [(3, 900), (5, 3600)]
    settings.SIGNIN_FAILURES_PER_ADDRESS = 1000


@pytest.fixture
def victim(db):
    return ApplicantFactory(mobile_verified_at=timezone.now())


def _alerts():
    return Notification.objects.filter(kind=Notification.Kind.SIGNIN_GUESSED)


def _page_guess(number: str) -> int:
    response = Client().post("/signin/", {"application_number": number, "date_of_birth": WRONG})
    return response.status_code


def _api_guess(number: str) -> int:
    response = APIClient().post(
        "/api/v1/auth/applicant/",
        {"application_number": number, "date_of_birth": WRONG},
        format="json",
    )
    return response.status_code


def _unlock(victim) -> None:
    """Let the lock run out (the failures stay remembered), as time would."""
    cache.delete(f"signin:number:{_hashed(victim.application_number)}:until")


def _hashed(number: str) -> str:
    from rto_booking.signin_limits import hashed_number

    return hashed_number(number)


def test_the_first_step_sends_the_applicant_one_sms(victim):
    for _ in range(2):
        _page_guess(victim.application_number)
    assert not _alerts().exists()
    _page_guess(victim.application_number)  # the third failure: the first step
    (row,) = _alerts()
    assert row.applicant == victim and row.booking is None
    assert row.recipient == victim.mobile
    assert row.context["application_number"] == victim.application_number


def test_guesses_while_locked_send_nothing_more(victim):
    for _ in range(3):
        _page_guess(victim.application_number)
    for _ in range(3):
        assert _page_guess(victim.application_number) == 429  # locked: not even counted
    assert _alerts().count() == 1


def test_each_further_step_sends_one_more_and_only_once(victim):
    for _ in range(3):
        _page_guess(victim.application_number)
    _unlock(victim)
    _page_guess(victim.application_number)  # fourth: still the first step, no second SMS
    assert _alerts().count() == 1
    _unlock(victim)
    _page_guess(victim.application_number)  # fifth: the second step
    assert _alerts().count() == 2
    _unlock(victim)
    _page_guess(victim.application_number)  # sixth: the second step again, told already
    assert _alerts().count() == 2


def test_api_guesses_alert_too_and_share_the_count_with_the_page(victim):
    assert _api_guess(victim.application_number) == 401
    assert _page_guess(victim.application_number) == 200
    assert _api_guess(victim.application_number) == 401  # the third failure, on the API
    assert _alerts().count() == 1


def test_the_alert_is_sent_by_the_dispatcher(victim, settings):
    import json
    from pathlib import Path

    from notifications.dispatcher import notifications_dispatch

    for _ in range(3):
        _api_guess(victim.application_number)
    notifications_dispatch()
    (sent,) = [json.loads(p.read_text()) for p in Path(settings.SMS_FILE_DIR).glob("*.json")]
    text = json.dumps(sent)
    assert victim.application_number in text and "date of birth" in text


def test_a_number_nobody_has_is_locked_and_nobody_is_told(db):
    for _ in range(3):
        _page_guess("2699999999")
    assert _page_guess("2699999999") == 429
    assert not Notification.objects.exists()


def test_an_unverified_mobile_is_not_told(settings):
    settings.MOBILE_VERIFICATION = "on"
    unverified = ApplicantFactory(mobile_verified_at=None)
    for _ in range(3):
        _page_guess(unverified.application_number)
    assert not _alerts().exists()


def test_rate_limits_off_means_no_lockout_and_no_alert(victim, settings):
    settings.RATE_LIMITS = "off"
    for _ in range(4):
        _page_guess(victim.application_number)
    assert not _alerts().exists()


def test_a_cache_that_loses_the_count_fails_open_without_an_alert(victim, monkeypatch):
    """django-redis with IGNORE_EXCEPTIONS answers None while Redis is away: a wrong sign-in
    is then simply not counted (no lockout, no SMS), never a 500."""
    monkeypatch.setattr(cache, "incr", lambda *args, **kwargs: None)
    for _ in range(4):
        assert _page_guess(victim.application_number) == 200
    assert not _alerts().exists()
