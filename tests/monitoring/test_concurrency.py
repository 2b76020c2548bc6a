"""Two deliveries of one alert at the same moment, on separate PostgreSQL connections."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.models import OutageProposal
from slots.models import Outage
from tests.factories import OfficeFactory, ServiceFactory
from tests.monitoring.conftest import TOKEN, alert, confirm_url, send
from tests.slots.test_concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def _alertmanager() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


@pytest.fixture
def office():
    ServiceFactory(slug="photo-biometrics")
    return OfficeFactory(code="MP-04")


@pytest.mark.parametrize("calls", [2, 12])
def test_simultaneous_firing_posts_of_one_fingerprint_make_one_proposal(office, calls):
    results = run_in_threads(calls, lambda _i: send(_alertmanager(), alert()))

    assert [r.status_code for r in results] == [202] * calls, results
    ids = {tuple(r.json()["proposals"]) for r in results}
    assert len(ids) == 1
    assert OutageProposal.objects.count() == 1


def test_simultaneous_firing_posts_in_auto_mode_declare_one_outage(office, settings):
    settings.OUTAGE_AUTO_DECLARE = True
    results = run_in_threads(8, lambda _i: send(_alertmanager(), alert()))

    assert {r.status_code for r in results} == {202}
    assert OutageProposal.objects.count() == 1 == Outage.objects.count()
    assert OutageProposal.objects.get().state == "confirmed"


def test_simultaneous_confirmations_declare_one_outage(office, superuser):
    (pk,) = send(_alertmanager(), alert()).json()["proposals"]

    def confirm(_i):
        client = APIClient()
        client.force_authenticate(superuser)
        return client.post(confirm_url(pk)).status_code

    results = run_in_threads(6, confirm)

    assert sorted(results) == [200] + [409] * 5
    assert Outage.objects.count() == 1
