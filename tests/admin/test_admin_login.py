"""The admin's login is throttled on failures: escalating per user name, in both languages."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/login/"


@pytest.fixture
def clerk(db):
    user = UserFactory(username="desk-clerk", is_staff=True)
    user.set_password("right-horse-battery")
    user.save()
    return user


def _try(client, password, **extra):
    return client.post(URL, {"username": "desk-clerk", "password": password}, **extra)


def test_wrong_passwords_lock_the_name_even_for_the_right_one(clerk, settings):
    settings.SIGNIN_LOCKOUT_STEPS = [(5, 900), (10, 3600)]
    client = Client()
    for _ in range(5):
        assert _try(client, "wrong").status_code == 200
    response = _try(client, "right-horse-battery")
    assert response.status_code == 429
    assert 800 < int(response["Retry-After"]) <= 900
    assert "Too many unsuccessful attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_right_password_signs_in_and_is_not_counted(clerk, settings):
    settings.SIGNIN_LOCKOUT_STEPS = [(1, 900)]
    client = Client()
    for _ in range(3):
        assert _try(client, "right-horse-battery").status_code == 302
        client.logout()


def test_the_lock_message_speaks_hindi(clerk, settings):
    settings.SIGNIN_LOCKOUT_STEPS = [(1, 900)]
    client = Client()
    client.cookies["django_language"] = "hi"
    _try(client, "wrong", HTTP_ACCEPT_LANGUAGE="hi")
    response = _try(client, "wrong", HTTP_ACCEPT_LANGUAGE="hi")
    assert response.status_code == 429
    assert "बहुत बार" in response.content.decode()


def test_rate_limits_off_turns_it_off(clerk, settings):
    settings.RATE_LIMITS = "off"
    settings.SIGNIN_LOCKOUT_STEPS = [(1, 900)]
    client = Client()
    for _ in range(3):
        assert _try(client, "wrong").status_code == 200
    assert _try(client, "right-horse-battery").status_code == 302
