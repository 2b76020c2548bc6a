"""Fixtures of the applicant page tests: slots ahead, signed-in clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from applicants.views import APPLICANT_SESSION_KEY
from tests.factories import SlotFactory, local_dt


def sign_in(client: Client, applicant) -> Client:
    """Sign `client` in as `applicant` the way the sign-in page does (session key)."""
    session = client.session
    session[APPLICANT_SESSION_KEY] = applicant.pk
    session.save()
    return client


@pytest.fixture
def applicant_client(client, applicant):
    return sign_in(client, applicant)


@pytest.fixture
def other_client(other_applicant):
    return sign_in(Client(), other_applicant)


def day_ahead(days: int):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def slots(bhopal_photo):
    """Bhopal photo slots at 10:00 and 10:30, three and four days ahead, 4 seats each."""
    made = {}
    for days in (3, 4):
        for hour, minute in ((10, 0), (10, 30)):
            made[(days, hour, minute)] = SlotFactory(
                offering=bhopal_photo,
                starts_at=local_dt(day_ahead(days), hour, minute),
                capacity=4,
            )
    return made
