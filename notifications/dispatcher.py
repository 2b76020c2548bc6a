"""The outbox dispatcher: claim due rows, render, send outside any transaction, record.

Claiming is one short transaction per batch: `SELECT … FOR UPDATE SKIP LOCKED` picks due rows
no other dispatcher is claiming, and the same transaction counts the attempt and pushes
`next_attempt_at` one lease ahead. Until the lease ends no other dispatcher sees those rows as
due, so two dispatchers never send a row twice; and the claimer stops sending a batch well
before its lease ends (slow gateway), handing the unsent rows back instead of racing the next
claimer. A dispatcher killed mid-batch loses nothing: its rows fall due when the lease ends.

Per batch the database sees three statements to claim and one to record every outcome.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from notifications import hotpath
from notifications.backends import (
    EmailMessageData,
    EmailSender,
    PermanentSendError,
    SmsMessage,
    appointment_ics_cached,
    get_sms_backend,
)
from notifications.models import Notification
from notifications.rendering import KINDS_WITH_SLOT, parse_time, render_notification
from rto_booking import locks

logger = logging.getLogger(__name__)

DUE_STATUSES = (Notification.Status.PENDING, Notification.Status.FAILED)
# Stop sending a claimed batch once this share of its lease has passed.
LEASE_SAFETY = 0.5
# Record what a batch has sent so far at least this often (see `_send_batch`).
RECORD_EVERY_SECONDS = 1.0
ICS_SEQUENCE_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class DispatchResult:
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    out_of_time: bool = False


@dataclass
class _Outcome:
    row: Notification
    status: str
    sent_at: datetime | None = None
    provider_id: str = ""
    last_error: str = ""


def retry_delay(attempts: int) -> float:
    """Seconds before retry number `attempts`: exponential, capped, "equal jitter".

    The delay lies in [d/2, d] for d = min(base * 2**(attempts-1), max): spread out so a
    recovering gateway is not hit by every row at once, and never shorter than half of d, so
    successive delays never shrink.
    """
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    ceiling = settings.NOTIFICATION_RETRY_MAX_SECONDS
    delay = min(base * 2 ** max(0, attempts - 1), ceiling)
    return delay / 2 + random.uniform(0, delay / 2)


def _claim(batch_size: int, token: int) -> list[Notification]:
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.NOTIFICATION_CLAIM_LEASE_SECONDS)
    with transaction.atomic():
        due = Notification.objects.filter(
            status__in=DUE_STATUSES, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        # SKIP LOCKED: concurrent dispatchers take disjoint batches instead of queueing behind
        # each other's claim.
        due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=lease_until, claimed_by=token
        )
        return list(Notification.objects.filter(pk__in=ids).order_by("next_attempt_at", "id"))


class _Senders:
    """Backends created on first use and closed at the end of the run."""

    def __init__(self):
        self._sms = None
        self._email = None

    @property
    def sms(self):
        if self._sms is None:
            self._sms = get_sms_backend()
        return self._sms

    @property
    def email(self) -> EmailSender:
        if self._email is None:
            self._email = EmailSender()
        return self._email

    def close(self) -> None:
        for backend in (self._sms, self._email):
            if backend is not None:
                try:
                    backend.close()
                except Exception:
                    logger.warning("Closing %r failed", backend, exc_info=True)


def _ics_for(row: Notification) -> list[tuple[str, bytes, str]]:
    slot = row.context.get("slot") or {}
    starts_at = parse_time(slot.get("starts_at"))
    if row.kind not in KINDS_WITH_SLOT or starts_at is None:
        return []
    office = row.context.get("office") or {}
    service = row.context.get("service") or {}
    hindi = row.language == "hi"
    office_name = (hindi and office.get("name_hi")) or office.get("name", "")
    service_name = (hindi and service.get("name_hi")) or service.get("name", "")
    address = (hindi and office.get("address_hi")) or office.get("address", "")
    reference = row.context.get("reference", "")
    url = (row.context.get("links") or {}).get("booking", "")
    content = appointment_ics_cached(
        reference=reference,
        starts_at=starts_at,
        ends_at=parse_time(slot.get("ends_at")),
        summary=f"{service_name} – {office_name}",
        location=", ".join(part for part in (office_name, address) if part),
        description=url,
        url=url,
        # A later message about the same booking must replace the earlier calendar entry.
        sequence=int((row.created_at - ICS_SEQUENCE_EPOCH).total_seconds() // 60),
    )
    return [(f"rto-{reference}.ics", content, "text/calendar")]


def _send_one(row: Notification, senders: _Senders) -> str:
    if not row.body:
        rendered = render_notification(
            kind=row.kind, channel=row.channel, language=row.language, context=row.context
        )
        row.subject, row.body, row.body_html = rendered.subject, rendered.body, rendered.body_html
    if row.channel == Notification.Channel.SMS:
        return senders.sms.send(
            SmsMessage(
                to=row.recipient,
                text=row.body,
                reference=row.context.get("reference", ""),
                kind=row.kind,
                language=row.language,
                notification_id=row.pk,
            )
        )
    return senders.email.send(
        EmailMessageData(
            to=row.recipient,
            subject=row.subject,
            text=row.body,
            html=row.body_html,
            notification_id=row.pk,
            attachments=_ics_for(row),
        )
    )


def _attempt(row: Notification, senders: _Senders) -> _Outcome:
    try:
        provider_id = _send_one(row, senders)
    except PermanentSendError as exc:
        return _Outcome(row, Notification.Status.DEAD, last_error=_error(exc))
    except Exception as exc:  # transient, or unexpected: retry until attempts run out
        logger.info("Notification %s attempt %s failed: %s", row.pk, row.attempts, exc)
        if row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            return _Outcome(row, Notification.Status.DEAD, last_error=_error(exc))
        row.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(row.attempts))
        return _Outcome(row, Notification.Status.FAILED, last_error=_error(exc))
    return _Outcome(
        row, Notification.Status.SENT, sent_at=timezone.now(), provider_id=str(provider_id)[:120]
    )


def _send_batch(
    rows: list[Notification],
    senders: _Senders,
    send_until: float,
    result: DispatchResult,
    token: int,
) -> None:
    """Send a claimed batch, recording outcomes at least every RECORD_EVERY_SECONDS.

    A dispatcher killed mid-batch leaves its unrecorded sends to be sent again when the lease
    ends; recording often bounds those repeats to about a second of sending (with a slow
    gateway), while a fast backend still records a whole batch in one statement.
    """
    outcomes: list[_Outcome] = []
    released: list[int] = []
    last_record = time.monotonic()
    for row in rows:
        now = time.monotonic()
        if now >= send_until:
            released.append(row.pk)
            continue
        if outcomes and now - last_record >= RECORD_EVERY_SECONDS:
            _record(outcomes, [], token)
            _tally(result, outcomes)
            outcomes, last_record = [], now
        outcomes.append(_attempt(row, senders))
    _record(outcomes, released, token)
    _tally(result, outcomes)
    result.released += len(released)


def _tally(result: DispatchResult, outcomes: list[_Outcome]) -> None:
    for o in outcomes:
        if o.status == Notification.Status.SENT:
            result.sent += 1
        elif o.status == Notification.Status.DEAD:
            result.dead += 1
        else:
            result.retrying += 1


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _record(outcomes: list[_Outcome], released: list[int], token: int) -> None:
    """Every outcome of the batch, in one statement (notifications/hotpath.py).

    Only rows this run still holds (`claimed_by` = its token) are written: a row handed back
    by the sweep because this run looked dead is somebody else's now."""
    if outcomes:
        hotpath.outcomes_record(
            [
                hotpath.Recorded(
                    pk=o.row.pk,
                    status=o.status,
                    provider_id=o.provider_id,
                    sent_at=o.sent_at,
                    next_attempt_at=o.row.next_attempt_at,
                    last_error=o.last_error,
                    subject=o.row.subject,
                    body=o.row.body,
                    body_html=o.row.body_html,
                )
                for o in outcomes
            ],
            token=token,
        )
    if released:
        # Claimed but not tried: the attempt does not count, and the rows are due again now.
        Notification.objects.filter(
            pk__in=released, status__in=DUE_STATUSES, claimed_by=token
        ).update(attempts=F("attempts") - 1, next_attempt_at=timezone.now(), claimed_by=None)


def notifications_dispatch(
    *, batch_size: int | None = None, time_budget_seconds: float | None = None
) -> DispatchResult:
    """Send due rows, batch after batch, until none is due or the time budget is spent."""
    batch_size = batch_size or settings.NOTIFICATION_BATCH_SIZE
    budget = (
        settings.NOTIFICATION_DISPATCH_SECONDS
        if time_budget_seconds is None
        else time_budget_seconds
    )
    deadline = time.monotonic() + budget
    lease_safe_seconds = settings.NOTIFICATION_CLAIM_LEASE_SECONDS * LEASE_SAFETY
    result = DispatchResult()
    senders = _Senders()
    token = locks.new_token()
    # The run's token, held as a session lock for as long as it may hold claimed rows: if the
    # process dies, the lock goes with its connection and the sweep hands the rows back.
    with locks.session_lock(locks.DISPATCHER, token):
        try:
            while True:
                if time.monotonic() >= deadline:
                    result.out_of_time = True
                    break
                rows = _claim(batch_size, token)
                if not rows:
                    break
                send_until = min(time.monotonic() + lease_safe_seconds, deadline)
                _send_batch(rows, senders, send_until, result, token)
                result.batches += 1
                result.claimed += len(rows)
        finally:
            senders.close()
    if result.claimed:
        logger.info("Notification dispatch: %s", result)
    return result


# Rows claimed by a dispatcher run that is gone: claimed (a token), inside their lease, and no
# session holds the token's lock. The lock check is correlated (evaluated for each row, again
# after waiting for a row a live run is claiming), so a run that has just claimed is never
# mistaken for a dead one: it takes its lock before it claims.
_ORPHANS_SQL = """
UPDATE notifications_notification AS n
SET next_attempt_at = %(now)s, claimed_by = NULL
WHERE n.status IN ('pending', 'failed') AND n.claimed_by IS NOT NULL
  AND n.next_attempt_at > %(now)s
  AND NOT EXISTS (
      SELECT 1 FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.classid = %(namespace)s::int::oid
         AND l.objid = n.claimed_by::oid AND l.objsubid = 2 AND l.granted)
"""


def notifications_due_count(*, now: datetime | None = None) -> int:
    return Notification.objects.filter(
        status__in=DUE_STATUSES, next_attempt_at__lte=now or timezone.now()
    ).count()


def notifications_next_due() -> datetime | None:
    """When the earliest row still to send falls due (None: nothing to send)."""
    return (
        Notification.objects.filter(status__in=DUE_STATUSES)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def notifications_release_orphans(*, now: datetime | None = None) -> int:
    """Hand back at once the rows a dead dispatcher had claimed (instead of after their
    lease): they are due again now. Their attempt stays counted; the dead run may have sent
    some of them (at-least-once across a crash, docs/NOTIFICATIONS.md). Returns rows freed."""
    with connection.cursor() as cursor:
        cursor.execute(_ORPHANS_SQL, {"now": now or timezone.now(), "namespace": locks.DISPATCHER})
        return cursor.rowcount
