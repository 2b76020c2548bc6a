"""Outage rescheduling with real Celery worker processes, killed with SIGKILL mid-run.

Invariant 6 of DESIGN.md: after a crash the run resumes (the free run lock tells the reconcile
that the run died; a worker starting looks at once, beat every 15 s) and ends exactly like one
clean run — every booking moved once, one
outbox row per event and channel, counters equal to bookings.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from applicants.models import Applicant
from notifications.models import Notification
from rto_booking import locks
from slots.integrity import integrity_violations
from slots.models import Booking, BookingEvent, Outage, Slot
from slots.references import booking_reference_new
from slots.services.outages import outage_create
from slots.services.slot_generation import slots_generate
from slots.tasks import reconcile_outages_task
from tests.factories import daily_sessions, local_dt
from tests.live import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
WAIT = 90


def _bulk_bookings(offering, first_day, days, per_slot):
    """Book `per_slot` seats of every slot of `days` days in bulk (fast set-up, true counters)."""
    slots = list(
        Slot.objects.filter(
            offering=offering,
            starts_at__gte=local_dt(first_day, 0),
            starts_at__lt=local_dt(first_day + timedelta(days=days), 0),
        ).order_by("starts_at")
    )
    count = len(slots) * per_slot
    verified_at = timezone.now()
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                application_number=f"27{i:08d}",
                full_name=f"Applicant {i}",
                date_of_birth="1990-01-01",
                mobile=f"+9197{i:08d}",
                preferred_language="hi" if i % 2 else "en",
                mobile_verified_at=verified_at,  # the one-time code entered (MOBILE_VERIFICATION)
            )
            for i in range(count)
        ]
    )
    bookings = []
    now = timezone.now()
    for index, applicant in enumerate(applicants):
        slot = slots[index // per_slot]
        bookings.append(
            Booking(
                reference=booking_reference_new(),
                applicant=applicant,
                slot=slot,
                office_id=slot.office_id,
                service_id=slot.service_id,
                created_at=now + timedelta(microseconds=index),
            )
        )
    Booking.objects.bulk_create(bookings, batch_size=2000)
    Slot.objects.filter(pk__in=[s.pk for s in slots]).update(booked=per_slot)
    return count


def _run_lock_holders() -> list[tuple]:
    """Who holds an outage's run lock, as PostgreSQL sees it (for a failure's message)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.objid, a.pid, a.state, a.wait_event, a.client_port, a.backend_start, "
            "a.state_change, left(a.query, 160) FROM pg_locks l JOIN pg_stat_activity a "
            "USING (pid) WHERE l.locktype = 'advisory' AND l.classid = %s::int::oid",
            [locks.OUTAGE_RUN],
        )
        return cursor.fetchall()


def test_worker_killed_mid_reschedule_resumes_to_the_same_end_state(
    broker, workers, bhopal_photo, bhopal, settings
):
    daily_sessions(bhopal_photo, end=(17, 0), seats=100, reserve=10)
    slots_generate(days=14)
    day = timezone.localdate() + timedelta(days=3)
    total = _bulk_bookings(bhopal_photo, day, days=2, per_slot=60)  # 2 × 14 × 60 = 1,680

    # Small chunks make the run long enough to be killed in the middle of it.
    worker = workers.and_wait(
        redis_url=broker.url, extra_env={"RESCHEDULE_CHUNK_SIZE": "20"}, pool="prefork"
    )
    with transaction.atomic():
        outage = outage_create(
            offices=[bhopal],
            starts_at=local_dt(day, 0),
            expected_end=local_dt(day + timedelta(days=2), 0),
            reason="Licence server down",
        )

    def progress():
        return Outage.objects.values_list("state", "moved").get(pk=outage.pk)

    assert wait_for(lambda: progress()[1] >= 100, timeout=WAIT, interval=0.02), (
        progress(),
        worker.log()[-3000:],
    )
    worker.kill()  # SIGKILL to the whole worker process group, mid-run
    state, moved_at_kill = progress()
    assert state == "running" and moved_at_kill < total, "the run ended before the kill"

    # The killed run's lock went with its connection: the new worker's reconcile at start
    # sees an unfinished outage with a free lock, re-publishes it, and finishes the job.
    # (PostgreSQL ends the killed session when its backend next reads or writes the socket,
    # a moment after the kill: until then the lock is held and a round finds nothing.)
    found: list[int] = []

    def reconcile_round() -> bool:
        found[:] = reconcile_outages_task()
        return bool(found)

    assert wait_for(reconcile_round, timeout=10), _run_lock_holders()
    assert found == [outage.pk]  # what beat's next round finds, too
    workers.and_wait(redis_url=broker.url)
    assert wait_for(lambda: progress() == ("done", total), timeout=60), progress()

    outage.refresh_from_db()
    assert (outage.affected, outage.moved, outage.needs_new_slot) == (total, total, 0)
    moves = Counter(
        BookingEvent.objects.filter(outage=outage, kind="rescheduled").values_list(
            "booking_id", flat=True
        )
    )
    assert len(moves) == total and set(moves.values()) == {1}  # every booking moved once
    sms = Counter(
        Notification.objects.filter(kind="rescheduled_outage", channel="sms").values_list(
            "booking_id", flat=True
        )
    )
    assert len(sms) == total and set(sms.values()) == {1}  # one SMS each, no duplicates
    assert not Booking.objects.filter(
        status="confirmed",
        slot__starts_at__lt=outage.expected_end,
        slot__starts_at__gte=local_dt(day, 0),
    ).exists()
    assert integrity_violations() == {}
