"""Notification use cases: write outbox rows with the events they announce, send them, retry.

Callers (the booking services, the outage rescheduler) call `notifications_write` inside the
transaction that records the events, so a message exists exactly when its event does. The
dispatcher (`notifications_dispatch`, run by the `notifications.tasks.dispatch_notifications`
task) sends the rows later, outside any transaction. See docs/NOTIFICATIONS.md.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Concat
from django.utils import timezone

from applicants.links import one_tap_cancel_url
from notifications.dispatcher import (
    DUE_STATUSES,
    DispatchResult,
    notifications_dispatch,
    notifications_release_orphans,
)
from notifications.models import Notification
from rto_booking.queueing import enqueue_now

if TYPE_CHECKING:
    from slots.models import Booking, BookingEvent

logger = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
REMINDER_CHUNK_SIZE = 2000
# A dispatcher that leaves rows waiting for a retry asks for one follow-up run when the
# earliest is due within this many seconds; later retries are the minute sweep's job.
FOLLOWUP_HORIZON_SECONDS = 120
FOLLOWUP_CACHE_KEY = "notifications:dispatch-followup"

__all__ = [
    "DispatchResult",
    "booking_url",
    "notification_rows_for_events",
    "notifications_dispatch",
    "notifications_dispatch_followup",
    "notifications_dispatch_on_commit",
    "notifications_due_count",
    "notifications_followup_started",
    "notifications_release_orphans",
    "notifications_retry",
    "notifications_write",
    "notifications_write_reminders",
]


def booking_url(*, reference: str) -> str:
    return f"{settings.SITE_URL}/my/bookings/{reference}/"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _booking_context(booking: Booking) -> dict[str, Any]:
    """What every message about `booking` needs. Reads only already-loaded relations."""
    office, service, slot = booking.office, booking.service, booking.slot
    return {
        "reference": booking.reference,
        "full_name": booking.applicant.full_name,
        "office": {
            "code": office.code,
            "name": office.name,
            "name_hi": office.name_hi,
            "address": office.address,
            "address_hi": office.address_hi,
        },
        "service": {"slug": service.slug, "name": service.name, "name_hi": service.name_hi},
        "slot": {"starts_at": _iso(slot.starts_at), "ends_at": _iso(slot.ends_at)},
        "links": {"booking": booking_url(reference=booking.reference)},
    }


def _rows_for_booking(
    *, booking: Booking, event_key: str, kind: str, context: dict[str, Any], now: datetime
) -> list[Notification]:
    applicant = booking.applicant
    channels = [(Notification.Channel.SMS, applicant.mobile)]
    if applicant.email:
        channels.append((Notification.Channel.EMAIL, applicant.email))
    return [
        Notification(
            booking_id=booking.pk,
            event_key=event_key,
            channel=channel,
            kind=kind,
            language=applicant.preferred_language or "en",
            recipient=recipient,
            context=context,
            status=Notification.Status.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for channel, recipient in channels
        if recipient
    ]


def _json_safe(extra: dict | None) -> dict[str, Any]:
    # Callers may pass datetimes or lazy strings; the JSON column takes only plain JSON.
    return json.loads(json.dumps(extra, cls=DjangoJSONEncoder)) if extra else {}


def notification_rows_for_events(
    *, events: Sequence[BookingEvent], kind: str, extra: dict | None = None
) -> list[Notification]:
    """Unsaved outbox rows, one per event and channel the applicant can receive.

    Runs no query: each event's booking (with applicant, office, service, slot) and outage must
    already be loaded. Nothing is rendered here; the dispatcher renders at send time.
    """
    if kind not in Notification.Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    extra_json = _json_safe(extra)
    now = timezone.now()
    rows: list[Notification] = []
    for event in events:
        booking = event.booking
        context = _booking_context(booking)
        context["event_id"] = event.pk
        context["from_starts_at"] = _iso(event.from_starts_at)
        context["to_starts_at"] = _iso(event.to_starts_at)
        if event.reason:
            context["event_reason"] = event.reason
        if event.outage_id:
            outage = event.outage
            context["outage"] = {
                "id": outage.pk,
                "reason": outage.reason,
                "reason_hi": outage.reason_hi,
            }
        else:
            context["outage"] = None
        context.update(extra_json)
        rows.extend(
            _rows_for_booking(
                booking=booking, event_key=f"event:{event.pk}", kind=kind, context=context, now=now
            )
        )
    return rows


def notifications_write(
    *, events: Sequence[BookingEvent], kind: str, extra: dict | None = None
) -> int:
    """Write the events' outbox rows in the caller's transaction; dispatch after commit.

    Idempotent: a row already written for the same event and channel is skipped by the unique
    (event_key, channel) constraint. Returns the number of rows attempted.
    """
    rows = notification_rows_for_events(events=events, kind=kind, extra=extra)
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    notifications_dispatch_on_commit()
    return len(rows)


# The rows of `notification_rows_for_events`, built inside PostgreSQL from event ids: a statewide
# reschedule writes 60,000 rows per run, and building and shipping their JSON contexts from
# Python costs more than everything else the move does. Keep the two in step: the test
# tests/notifications/test_services.py::test_sql_rows_equal_python_rows compares them.
_ROWS_FROM_EVENTS_SQL = """
INSERT INTO notifications_notification (
    booking_id, event_key, channel, kind, language, recipient, context, subject, body,
    body_html, status, attempts, next_attempt_at, last_error, provider_id, created_at)
SELECT b.id, 'event:' || ev.id, ch.channel, %(kind)s,
       coalesce(nullif(ap.preferred_language, ''), 'en'), ch.recipient,
       jsonb_build_object(
           'reference', b.reference, 'full_name', ap.full_name,
           'office', jsonb_build_object('code', o.code, 'name', o.name, 'name_hi', o.name_hi,
                                        'address', o.address, 'address_hi', o.address_hi),
           'service', jsonb_build_object('slug', sv.slug, 'name', sv.name, 'name_hi', sv.name_hi),
           'slot', jsonb_build_object('starts_at', to_json(s.starts_at),
                                      'ends_at', to_json(s.ends_at)),
           'links', jsonb_build_object(
               'booking', %(site)s || '/my/bookings/' || b.reference || '/'),
           'event_id', ev.id,
           'from_starts_at', to_json(ev.from_starts_at),
           'to_starts_at', to_json(ev.to_starts_at),
           'outage', CASE WHEN ot.id IS NULL THEN 'null'::jsonb ELSE jsonb_build_object(
               'id', ot.id, 'reason', ot.reason, 'reason_hi', ot.reason_hi) END)
       || CASE WHEN ev.reason <> '' THEN jsonb_build_object('event_reason', ev.reason)
               ELSE '{}'::jsonb END,
       '', '', '', 'pending', 0, %(now)s, '', '', %(now)s
FROM slots_bookingevent ev
JOIN slots_booking b ON b.id = ev.booking_id
JOIN applicants_applicant ap ON ap.id = b.applicant_id
JOIN slots_office o ON o.id = b.office_id
JOIN slots_service sv ON sv.id = b.service_id
JOIN slots_slot s ON s.id = b.slot_id
LEFT JOIN slots_outage ot ON ot.id = ev.outage_id
CROSS JOIN LATERAL (VALUES ('sms', ap.mobile), ('email', ap.email)) AS ch(channel, recipient)
WHERE ev.id = ANY(%(ids)s) AND ch.recipient <> ''
ON CONFLICT DO NOTHING
"""


def notifications_write_for_event_ids(*, event_ids: Sequence[int], kind: str) -> None:
    """`notifications_write` for events already in the database, set-based.

    On PostgreSQL the rows are built by one INSERT … SELECT (the booking's current slot is the
    one announced); elsewhere through `notification_rows_for_events`. Idempotent like
    `notifications_write`; the dispatcher is started after commit.
    """
    from django.db import connection

    from slots.models import BookingEvent

    if kind not in Notification.Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    if not event_ids:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _ROWS_FROM_EVENTS_SQL,
                {
                    "ids": list(event_ids),
                    "kind": kind,
                    "site": settings.SITE_URL,
                    "now": timezone.now(),
                },
            )
    else:
        events = BookingEvent.objects.filter(pk__in=event_ids).select_related(
            "booking__applicant", "booking__office", "booking__service", "booking__slot", "outage"
        )
        Notification.objects.bulk_create(
            notification_rows_for_events(events=list(events), kind=kind), ignore_conflicts=True
        )
    notifications_dispatch_on_commit()


# Set while a published dispatcher has not started yet; the dispatcher clears it before it
# claims rows. A burst of bookings therefore publishes one task per dispatcher run instead of
# one per booking, and loses nothing: a row committed while the flag is set is committed
# before that dispatcher's first claim, so it sees the row. The expiry only bounds the cost of
# a published task that is lost (the minute sweep sends its rows).
DISPATCH_QUEUED_KEY = "notifications:dispatch-queued"
DISPATCH_QUEUED_TTL = 30


def _publish_dispatch() -> None:
    from notifications.tasks import dispatch_notifications

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            if not cache.add(DISPATCH_QUEUED_KEY, 1, timeout=DISPATCH_QUEUED_TTL):
                return  # a dispatcher is queued and has not started: it will see our rows
        except Exception:  # the cache is Redis: if it is away, publish (or fail) as before
            logger.debug("dispatch flag unavailable", exc_info=True)
    if not enqueue_now(dispatch_notifications):
        _dispatch_started()  # nothing was queued: let the next commit try again


def _dispatch_started() -> None:
    """Called by the dispatcher before it claims rows (see DISPATCH_QUEUED_KEY)."""
    try:
        cache.delete(DISPATCH_QUEUED_KEY)
    except Exception:
        logger.debug("dispatch flag unavailable", exc_info=True)


class _BackgroundPublisher:
    """Runs `_publish_dispatch` in a thread of this process, after the commits that ask for it.

    The check-and-publish costs a Redis round trip and the redis-py/Celery machinery around it,
    paid while the applicant waits if done inline. Here a commit only sets an event; the thread
    wakes, clears it and publishes. Every commit that set the event before the thread cleared it
    committed before `_publish_dispatch` checks the flag, so the "loses nothing" argument of
    DISPATCH_QUEUED_KEY holds unchanged.

    The thread checks at most once per `interval` seconds: after a check it sleeps out the rest
    of the interval before clearing the event again, so a burst of commits costs one check per
    interval instead of one thread wake-up and one Redis call per booking (a tenth of a
    booking's CPU in a web worker, docs/PERFORMANCE.md). A commit during the pause is covered by
    the check that ends it: messages wait at most `interval` longer to be picked up.

    A process that dies before its thread ran leaves the rows to the minute sweep; a process
    that exits normally publishes on the way out.
    """

    interval = 0.05

    def __init__(self):
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        atexit.register(self.flush)

    def request(self) -> None:
        if self._pid != os.getpid() or not self._thread.is_alive():
            with self._lock:
                if self._pid != os.getpid() or not self._thread.is_alive():
                    self._wanted = threading.Event()  # a forked child starts afresh
                    self._pid = os.getpid()
                    self._thread = threading.Thread(
                        target=self._run, name="dispatch-publisher", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        wanted = self._wanted
        last_check = -self.interval
        while True:
            wanted.wait()
            pause = last_check + self.interval - monotonic()
            if pause > 0:
                sleep(pause)  # commits meanwhile only set the event: this check covers them
            wanted.clear()
            last_check = monotonic()
            try:
                _publish_dispatch()
            except Exception:  # never let the thread die; the sweep covers a lost publish
                logger.warning("Could not publish the dispatcher", exc_info=True)

    def flush(self) -> None:
        """Publish now if a commit asked for it and the thread has not yet (process exit)."""
        if self._pid == os.getpid() and self._wanted.is_set():
            self._wanted.clear()
            _publish_dispatch()


_publisher = _BackgroundPublisher()


def notifications_publish_pending() -> None:
    """Publish now what commits of this process asked for and its thread has not yet sent
    (the end of a Celery task; process exit does the same through atexit)."""
    _publisher.flush()


def _dispatch_after_commit() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _publish_dispatch()  # tasks run in this process: send before answering, as before
    else:
        _publisher.request()


def notifications_dispatch_on_commit() -> None:
    """Start the dispatcher once the current transaction commits (at once outside one).

    This is `rto_booking.queueing.enqueue_on_commit` with two additions. The publish runs in a
    background thread of the process (`_BackgroundPublisher`), off the request's path. And a
    reschedule chunk calls this for every batch of events it writes, so the callback is
    registered only if it is not already waiting on this transaction. Django drops the waiting
    callbacks of a rolled-back transaction or savepoint, so the check never suppresses a needed
    dispatch. Publishing errors are logged and swallowed (Redis down): the minute sweep sends
    the rows.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        func is _dispatch_after_commit for _sids, func, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(_dispatch_after_commit, robust=True)


def notifications_write_reminders(*, now: datetime | None = None) -> int:
    """Write reminder rows for confirmed bookings whose slot is tomorrow (India time).

    Set-based and idempotent: bookings that already have tomorrow's reminder are skipped in
    the query, and the unique (event_key, channel) makes a concurrent second run harmless.
    Returns the number of rows attempted.
    """
    from slots.models import Booking

    now = now or timezone.now()
    tomorrow = timezone.localtime(now, IST).date() + timedelta(days=1)
    day_start = datetime.combine(tomorrow, time.min, tzinfo=IST)
    already_reminded = Notification.objects.filter(
        booking_id=OuterRef("pk"),
        kind=Notification.Kind.REMINDER,
        event_key=Concat(
            Value("reminder:"),
            OuterRef("reference"),
            Value(f":{tomorrow.isoformat()}"),
            output_field=CharField(),
        ),
    )
    booking_ids = list(
        Booking.objects.filter(
            status=Booking.Status.CONFIRMED,
            slot__starts_at__gte=day_start,
            slot__starts_at__lt=day_start + timedelta(days=1),
        )
        .exclude(Exists(already_reminded))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    written = 0
    for start in range(0, len(booking_ids), REMINDER_CHUNK_SIZE):
        chunk = booking_ids[start : start + REMINDER_CHUNK_SIZE]
        bookings = Booking.objects.filter(pk__in=chunk).select_related(
            "applicant", "office", "service", "slot"
        )
        rows: list[Notification] = []
        for booking in bookings:
            context = _booking_context(booking)
            context["links"]["cancel"] = one_tap_cancel_url(reference=booking.reference)
            rows.extend(
                _rows_for_booking(
                    booking=booking,
                    event_key=f"reminder:{booking.reference}:{tomorrow.isoformat()}",
                    kind=Notification.Kind.REMINDER,
                    context=context,
                    now=now,
                )
            )
        with transaction.atomic():
            Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
            notifications_dispatch_on_commit()
        written += len(rows)
    return written


def notifications_retry(*, ids: Iterable[int]) -> int:
    """Queue dead or failed rows again now, with a fresh set of attempts. Returns rows changed.

    `last_error` is kept until the next attempt, so the admin still shows why it failed.
    """
    with transaction.atomic():
        changed = Notification.objects.filter(
            pk__in=list(ids), status__in=[Notification.Status.DEAD, Notification.Status.FAILED]
        ).update(status=Notification.Status.PENDING, next_attempt_at=timezone.now(), attempts=0)
        if changed:
            notifications_dispatch_on_commit()
    return changed


def notifications_due_count(*, now: datetime | None = None) -> int:
    return Notification.objects.filter(
        status__in=DUE_STATUSES, next_attempt_at__lte=now or timezone.now()
    ).count()


def notifications_dispatch_followup(*, result: DispatchResult) -> str:
    """After a dispatcher run: hand over to a fresh task when time ran out, and ask for one
    delayed run when a retry falls due soon (the sweep covers everything else).

    Does nothing when tasks run eagerly, where a "later" run would run at once, recursively.
    Returns what it did, for the task's result and the tests.
    """
    from notifications.tasks import dispatch_notifications
    from rto_booking.celery import app

    if app.conf.task_always_eager:
        return "eager"
    if result.out_of_time:
        enqueue_now(dispatch_notifications)
        return "continued"
    next_due = (
        Notification.objects.filter(status__in=DUE_STATUSES)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if next_due is None:
        return "idle"
    countdown = max(0.0, (next_due - timezone.now()).total_seconds())
    if countdown > FOLLOWUP_HORIZON_SECONDS:
        return "sweep"
    eta = timezone.now().timestamp() + countdown
    try:
        # One delayed run for the whole outbox, however many dispatchers finish; a second one
        # only when it is due clearly earlier than the one already waiting (an extra run is
        # harmless, the marker just keeps them from multiplying).
        if not cache.add(FOLLOWUP_CACHE_KEY, eta, timeout=FOLLOWUP_HORIZON_SECONDS + 60):
            waiting = cache.get(FOLLOWUP_CACHE_KEY)
            if waiting is not None and float(waiting) <= eta + 1:
                return "already-scheduled"
            cache.set(FOLLOWUP_CACHE_KEY, eta, timeout=FOLLOWUP_HORIZON_SECONDS + 60)
        dispatch_notifications.apply_async(kwargs={"followup": True}, countdown=countdown + 0.2)
    except Exception:
        logger.warning("Could not schedule a follow-up dispatch; the sweep will", exc_info=True)
        return "failed"
    return "scheduled"


def notifications_followup_started() -> None:
    """The scheduled follow-up is running: the next dispatcher may schedule another one."""
    try:
        cache.delete(FOLLOWUP_CACHE_KEY)
    except Exception:
        logger.warning("Could not clear the follow-up marker", exc_info=True)
