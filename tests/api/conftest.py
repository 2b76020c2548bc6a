"""API clients for the personas (the cache is cleaned for every test by tests/conftest.py)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from applicants.tokens import applicant_token_issue
from tests.conftest import in_days
from tests.factories import SlotFactory


@pytest.fixture
def api():
    return APIClient()


def _bearer(applicant) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {applicant_token_issue(applicant=applicant).token}"
    )
    return client


def _staff(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def applicant_api(applicant):
    return _bearer(applicant)


@pytest.fixture
def other_applicant_api(other_applicant):
    return _bearer(other_applicant)


@pytest.fixture
def bhopal_api(clerk_bhopal):
    return _staff(clerk_bhopal)


@pytest.fixture
def indore_api(clerk_indore):
    return _staff(clerk_indore)


@pytest.fixture
def superuser_api(superuser):
    return _staff(superuser)


@pytest.fixture
def indore_slot(indore_photo):
    return SlotFactory(offering=indore_photo, starts_at=in_days(3), capacity=2)


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    if code == "invalid":
        assert isinstance(body.get("fields"), dict)
    return body


@pytest.fixture(autouse=True)
def _clerks_in_the_clerk_group(request, db):
    """The API honours the admin's groups: the conftest clerks are in the "Clerk" group, as
    every real clerk is (a staff user without it is refused; see test_staff_permissions)."""
    from django.contrib.auth.models import Group

    from tests.admin.conftest import ensure_groups

    ensure_groups()
    group = Group.objects.get(name="Clerk")
    for name in ("clerk_bhopal", "clerk_indore"):
        if name in request.fixturenames:
            request.getfixturevalue(name).groups.add(group)
