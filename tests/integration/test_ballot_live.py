"""A newly opened day's ballot drawn by the plain stack: `celery -A rto_booking worker` and
`celery -A rto_booking beat` with default settings draw it within a minute of its close, book
exactly the seats and tell every requester by SMS and e-mail."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from slots.errors import InBallot
from slots.integrity import integrity_violations
from slots.models import BallotEntry, Booking, WaitlistEntry
from slots.services.bookings import booking_create
from tests.factories import ApplicantFactory, SlotFactory, local_dt
from tests.integration.test_plain_stack import _mail, _sms, redis, stack  # noqa: F401
from tests.live import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _ballot_closing_soon(settings) -> datetime:
    """This process's ballot window made to close at a minute boundary 20–80 s from now (the
    services read the window from the settings; the draw reads `closes_at` from each entry)."""
    now = timezone.localtime()
    midnight = timezone.make_aware(datetime.combine(now.date(), time()))
    minutes = int((now - midnight).total_seconds() // 60) + 1
    if (midnight + timedelta(minutes=minutes) - now).total_seconds() < 20:
        minutes += 1
    settings.RELEASE_BALLOT_MINUTES = minutes
    return midnight + timedelta(minutes=minutes)


def test_the_plain_worker_and_beat_draw_the_ballot_and_tell_everyone(
    stack,  # noqa: F811
    bhopal_photo,
    settings,
):
    plain = stack()
    plain.worker()
    plain.beat()
    day = timezone.localdate() + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    slot = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10), capacity=2)
    closes_at = _ballot_closing_soon(settings)
    applicants = [ApplicantFactory(preferred_language=("hi", "en")[n % 2]) for n in range(5)]
    for applicant in applicants:
        for _ in range(3):  # asking again changes nothing
            with pytest.raises(InBallot):
                booking_create(applicant=applicant, slot_id=slot.pk)
    assert BallotEntry.objects.filter(state="pending").count() == 5
    assert timezone.now() < closes_at
    # The window is whole minutes from midnight; its close is brought to a few seconds from now
    # so the test does not wait out the minute (the entries' close is what the draw reads).
    closes_at = timezone.now() + timedelta(seconds=3)
    BallotEntry.objects.update(closes_at=closes_at)

    # Drawn by the beat's round after the close (every 30 s), then told through the outbox.
    assert wait_for(
        lambda: not BallotEntry.objects.filter(state="pending").exists(),
        timeout=(closes_at - timezone.now()).total_seconds() + 60,
    ), plain.logs()
    entries = list(BallotEntry.objects.all())
    assert sorted(e.state for e in entries) == ["lost", "lost", "lost", "won", "won"]
    slot.refresh_from_db()
    assert slot.booked == 2
    assert Booking.objects.filter(slot=slot, status="confirmed").count() == 2
    assert WaitlistEntry.objects.filter(state="waiting", date_from=day, date_to=day).count() == 3
    sms_dir, mail_dir = plain.tmp / "sms", plain.tmp / "mail"

    def told():
        kinds = sorted(m["kind"] for m in _sms(sms_dir))
        return kinds == ["ballot_lost"] * 3 + ["booking_confirmed"] * 2

    assert wait_for(told, timeout=30), ([m["kind"] for m in _sms(sms_dir)], plain.logs())
    for entry in entries:
        assert any(m["to"] == entry.applicant.mobile for m in _sms(sms_dir))
    assert wait_for(lambda: all(a.email in _mail(mail_dir) for a in applicants), timeout=30), (
        plain.logs()
    )
    assert integrity_violations() == {}
