"""End to end with a real Celery worker process (the README's plain `celery -A rto_booking
worker`): a firing alert → a proposal → confirmed → an open-ended outage → its bookings held;
the alert resolved → a resolve proposal → confirmed → every held booking placed once. In auto
mode the same without a clerk."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.models import OutageProposal
from notifications.models import Notification
from slots.integrity import integrity_violations
from slots.models import Booking, Outage
from slots.services.slot_generation import slots_generate
from tests.factories import UserFactory, daily_sessions
from tests.integration.conftest import broker, shared_private_redis, workers  # noqa: F401
from tests.integration.test_outage_live import _bulk_bookings
from tests.live import wait_for
from tests.monitoring.conftest import alert, confirm_url, ensure_proposal_permissions, send

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
WAIT = 90


def _state(outage_id):
    return Outage.objects.values_list("state", "on_hold").get(pk=outage_id)


def _statuses() -> Counter:
    return Counter(Booking.objects.values_list("status", flat=True))


def _on_hold_sms_once() -> bool:
    per_booking = Counter(
        Notification.objects.filter(kind="on_hold", channel="sms").values_list(
            "booking_id", flat=True
        )
    )
    return bool(per_booking) and set(per_booking.values()) == {1}


@pytest.mark.parametrize("auto", [False, True], ids=["clerk-confirms", "auto-declare"])
def test_alert_to_held_bookings_and_back_with_a_worker(
    broker,  # noqa: F811
    workers,  # noqa: F811
    alertmanager,
    bhopal_photo,
    bhopal,
    settings,
    auto,
):
    settings.OUTAGE_AUTO_DECLARE = auto
    daily_sessions(bhopal_photo, end=(17, 0), seats=20, reserve=2)
    slots_generate(days=10)
    tomorrow = timezone.localdate() + timedelta(days=1)
    total = _bulk_bookings(bhopal_photo, tomorrow, days=1, per_slot=5)  # 14 × 5 = 70
    workers.and_wait(redis_url=broker.url)
    user = UserFactory(username="clerk-bhopal")
    bhopal.clerks.add(user)
    # The API honours the admin's groups; a transactional test has flushed them: make them again.
    ensure_proposal_permissions()
    user.groups.add(Group.objects.get(name="Clerk"))
    clerk = APIClient()
    clerk.force_authenticate(user)

    # The licence server stops answering: monitoring fires.
    (pk,) = send(alertmanager, alert(service="photo-biometrics")).json()["proposals"]
    if not auto:
        assert OutageProposal.objects.get(pk=pk).state == "open"
        assert [p["id"] for p in clerk.get("/api/v1/outage-proposals/").json()] == [pk]
        answer = clerk.post(confirm_url(pk))
        assert answer.status_code == 200, answer.content
    proposal = OutageProposal.objects.get(pk=pk)
    assert proposal.state == "confirmed"
    outage = proposal.outage
    assert outage.expected_end is None

    assert wait_for(lambda: _state(outage.pk) == ("done", total), timeout=WAIT), _state(outage.pk)
    assert _statuses() == {"on_hold": total}
    assert wait_for(_on_hold_sms_once, timeout=WAIT)
    assert integrity_violations() == {}

    # The server answers again: monitoring resolves.
    (resolve_pk,) = send(alertmanager, alert("resolved")).json()["proposals"]
    if not auto:
        answer = clerk.post(confirm_url(resolve_pk))
        assert answer.status_code == 200, answer.content
        assert answer.json()["outage"]["status"] == "resolved"
    assert OutageProposal.objects.get(pk=resolve_pk).state == "confirmed"

    assert wait_for(lambda: _statuses() == {"confirmed": total}, timeout=WAIT), _statuses()
    assert wait_for(lambda: _state(outage.pk) == ("done", 0), timeout=WAIT), _state(outage.pk)
    assert not Booking.objects.filter(held_by__isnull=False).exists()
    assert _on_hold_sms_once()  # nobody told twice that they are held
    assert integrity_violations() == {}
