"""The outbox dispatcher: claim due rows, render, send outside any transaction, record.

Claiming is one short transaction per batch: `SELECT … FOR UPDATE SKIP LOCKED` picks due rows
no other dispatcher is claiming, and the same transaction counts the attempt and pushes
`next_attempt_at` one lease ahead. Until the lease ends no other dispatcher sees those rows as
due, so two dispatchers never send a row twice; and the claimer stops sending a batch well
before its lease ends (slow gateway), handing the unsent rows back instead of racing the next
claimer. A dispatcher killed mid-batch loses nothing: its rows fall due when the lease ends.

Per batch the database sees three statements to claim (four for SMS: account messages, e.g. a
one-time code, are claimed first by a query of their own) and one to record every outcome.
"""

from __future__ import annotations

import logging
import queue
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from psycopg.errors import LockNotAvailable

from notifications import hotpath
from notifications.backends import (
    EmailMessageData,
    EmailSender,
    PermanentSendError,
    RateLimitedError,
    SmsMessage,
    appointment_calendar,
    email_senders_wanted,
    get_sms_backend,
    sms_senders_wanted,
)
from notifications.dlt import dlt_for
from notifications.models import ACCOUNT_KINDS, SECRET_KINDS, Notification
from notifications.ratelimit import RateLimiter
from notifications.rendering import KINDS_WITH_SLOT, parse_time, render_notification
from rto_booking import locks

logger = logging.getLogger(__name__)

DUE_STATUSES = (Notification.Status.PENDING, Notification.Status.FAILED)
# Stop sending a claimed batch once this share of its lease has passed.
LEASE_SAFETY = 0.5
# Record what has been sent so far at least this often (see `notifications_dispatch`).
RECORD_EVERY_SECONDS = 1.0
# A channel whose claim found no due row is asked again after this long (rows a reschedule
# commits meanwhile), until nothing is in flight and no channel has rows.
QUIET_SECONDS = 0.5


@dataclass
class DispatchResult:
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    superseded: int = 0
    held: int = 0
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


def _claim(
    batch_size: int, token: int, *, channel: str | None = None, result: DispatchResult | None = None
) -> list[Notification]:
    """Claim up to `batch_size` due rows; drop the superseded, hold SMS over the hourly cap.

    Returns the rows to send (maybe none while due rows remain: all superseded or held, the
    caller claims again)."""
    result = result if result is not None else DispatchResult()
    try:
        return _claim_rows(batch_size, token, channel, result)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, LockNotAvailable):
            raise
        # Another claim held the SMS count's lock for long (a loaded database): nothing is
        # claimed, the rows stay due for the next claim or the sweep.
        logger.warning("SMS claim waited too long for the hourly count's lock; claiming later")
        return []


def _claim_rows(
    batch_size: int, token: int, channel: str | None, result: DispatchResult
) -> list[Notification]:
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.NOTIFICATION_CLAIM_LEASE_SECONDS)
    with transaction.atomic():
        due = Notification.objects.filter(
            status__in=DUE_STATUSES, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if channel is not None:
            due = due.filter(channel=channel)
        # SKIP LOCKED: concurrent dispatchers take disjoint batches instead of queueing behind
        # each other's claim.
        due = due.select_for_update(skip_locked=True)
        # Messages with no booking first — account SMS (a one-time code: someone waits at a
        # screen) and waiting-list offers (SMS and e-mail: a seat held for minutes) — however
        # long the queue of booking messages an outage has written: their own small partial
        # index (notification_account_due) answers this at once.
        account_ids = list(
            due.filter(booking__isnull=True).values_list("pk", flat=True)[:batch_size]
        )
        booking_ids: list[int] = []
        if len(account_ids) < batch_size:
            booking_ids = list(
                due.filter(booking__isnull=False).values_list("pk", flat=True)[
                    : batch_size - len(account_ids)
                ]
            )
        ids = account_ids + booking_ids
        if not ids:
            return []
        superseded = _supersede(booking_ids=booking_ids, account_ids=account_ids)
        result.superseded += len(superseded)
        ids = [pk for pk in ids if pk not in superseded]
        rows = list(Notification.objects.filter(pk__in=ids))
        expired = _drop_expired(rows, now)
        result.dead += len(expired)
        rows = [row for row in rows if row.pk not in expired]
        held = _hold_over_hourly_cap(rows, now)
        result.held += len(held)
        rows = [row for row in rows if row.pk not in held]
        if not rows:
            result.batches += 1
            return []
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
            attempts=F("attempts") + 1, next_attempt_at=lease_until, claimed_by=token
        )
        # The rows in hand, as the UPDATE left them (locked: nobody else changed them).
        for row in rows:
            row.attempts += 1
            row.next_attempt_at, row.claimed_by = lease_until, token
        return rows


def _supersede(*, booking_ids: list[int], account_ids: list[int]) -> set[int]:
    """Of these unsent rows, those a newer row about the same booking and channel replaces:
    marked `superseded` and never sent, so the applicant gets the current state once.

    An account message (no booking) is replaced by a newer one of the same kind to the same
    applicant: a resent one-time code makes the earlier one useless. One query per sort, not
    one with both tests OR-ed: PostgreSQL runs a lone EXISTS as a semi-join over the batch, an
    OR of two as a subquery per row (a quarter of a second per batch of 500, 35 % of the drain)."""
    newer = Notification.objects.filter(
        booking_id=OuterRef("booking_id"), channel=OuterRef("channel"), pk__gt=OuterRef("pk")
    )
    newer_account = Notification.objects.filter(
        booking__isnull=True,
        applicant_id=OuterRef("applicant_id"),
        kind=OuterRef("kind"),
        channel=OuterRef("channel"),
        pk__gt=OuterRef("pk"),
    )
    replaced: set[int] = set()
    for ids, replacing in ((booking_ids, newer), (account_ids, newer_account)):
        if ids:
            rows = Notification.objects.filter(pk__in=ids)
            if replacing is newer_account:
                # Only an account message is replaced by its kind's next one (a resent code);
                # two offers, or two ballots' results, for two services are two messages.
                rows = rows.filter(kind__in=ACCOUNT_KINDS)
            replaced.update(rows.filter(Exists(replacing)).values_list("pk", flat=True))
    if replaced:
        Notification.objects.filter(pk__in=replaced).update(
            status=Notification.Status.SUPERSEDED,
            claimed_by=None,
            last_error="Superseded by a newer message about the same booking or account.",
        )
    return replaced


EXPIRED_NOTE = "Not sent: its moment passed before it could go (expires_at); a newer one is asked."


def _drop_expired(rows: list[Notification], now: datetime) -> set[int]:
    """Account messages whose `expires_at` (in their context) has passed go dead unsent: a
    one-time code that arrives after it expired only confuses."""
    expired = {
        row.pk
        for row in rows
        if row.booking_id is None
        and (expires_at := parse_time((row.context or {}).get("expires_at"))) is not None
        and expires_at <= now
    }
    if expired:
        Notification.objects.filter(pk__in=expired).update(
            status=Notification.Status.DEAD, claimed_by=None, last_error=EXPIRED_NOTE
        )
    return expired


HOLD_NOTE = (
    "Held: {cap} SMS to this mobile in the last hour (SMS_MAX_PER_HOUR); sent when the hour has "
    "passed, unless a newer message replaces it. The e-mail is not held."
)


def _hold_over_hourly_cap(rows: list[Notification], now: datetime) -> set[int]:
    """SMS beyond SMS_MAX_PER_HOUR to one mobile wait (pending, no attempt counted) until the
    oldest SMS of that hour is an hour old. Counted: SMS sent in the last hour and SMS claimed
    by any run now (in flight); the claims of SMS take one transaction lock (locks.SMS_CAP), so
    two runs never both count the same free places. The soonest appointments keep theirs.

    Account messages (no booking: a one-time code, the application number) are neither held
    nor counted. A code held for an hour behind six outage messages would be useless (it
    expires in MOBILE_CODE_MINUTES), and counting codes would let anyone who asks for codes
    to someone's number hold that person's booking messages back. They are bounded instead
    where they are asked for (resends per applicant, per number and per client), so they
    cannot flood a mobile either."""
    cap = settings.SMS_MAX_PER_HOUR
    sms = [
        row
        for row in rows
        if row.channel == Notification.Channel.SMS and row.booking_id is not None
    ]
    if not cap or not sms:
        return set()
    locks.xact_lock_all(locks.SMS_CAP, [0], timeout_s=30)
    recipients = {row.recipient for row in sms}
    window_start = now - timedelta(hours=1)
    used: dict[str, list[datetime]] = {}
    # One statement, so one snapshot: counted apart, an SMS recorded as sent between the two
    # reads (no longer in flight, not yet sent in the first one's view) counted in neither,
    # and a claim running then let more through than the cap.
    for recipient, status, sent_at in (
        Notification.objects.filter(
            channel=Notification.Channel.SMS, booking__isnull=False, recipient__in=recipients
        )
        .filter(
            Q(status=Notification.Status.SENT, sent_at__gt=window_start)
            | Q(status__in=DUE_STATUSES, claimed_by__isnull=False)
        )
        .exclude(pk__in=[row.pk for row in sms])
        .values_list("recipient", "status", "sent_at")
    ):
        in_flight = status != Notification.Status.SENT
        used.setdefault(recipient, []).append(now if in_flight else sent_at)
    held: dict[int, datetime] = {}
    for row in sorted(sms, key=urgency):
        times = used.setdefault(row.recipient, [])
        if len(times) < cap:
            times.append(now)
            continue
        held[row.pk] = sorted(times)[len(times) - cap] + timedelta(hours=1)
    for pk, due_at in held.items():
        Notification.objects.filter(pk=pk).update(
            next_attempt_at=max(due_at, now + timedelta(seconds=1)),
            last_error=HOLD_NOTE.format(cap=cap),
        )
    return set(held)


class _Senders:
    """Backends made per sending thread on first use, all closed at the end of the run.

    Each thread keeps its own SMS backend (an HTTP session: one kept-alive connection) and its
    own SMTP connection, so nothing is shared between threads but the rate limiter."""

    def __init__(self):
        self._local = threading.local()
        self._made: list = []
        self._lock = threading.Lock()

    def _get(self, name: str, factory):
        backend = getattr(self._local, name, None)
        if backend is None:
            backend = factory()
            setattr(self._local, name, backend)
            with self._lock:
                self._made.append(backend)
        return backend

    @property
    def sms(self):
        return self._get("sms", get_sms_backend)

    @property
    def email(self) -> EmailSender:
        return self._get("email", EmailSender)

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, []
        for backend in made:
            try:
                backend.close()
            except Exception:
                logger.warning("Closing %r failed", backend, exc_info=True)


def _ics_for(row: Notification) -> list[tuple[str, bytes, str]]:
    if row.kind not in KINDS_WITH_SLOT:
        return []
    content = appointment_calendar(context=row.context, language=row.language)
    if content is None:
        return []
    return [(f"rto-{row.context.get('reference', '')}.ics", content, "text/calendar")]


def _render(row: Notification) -> None:
    if not row.body:
        rendered = render_notification(
            kind=row.kind, channel=row.channel, language=row.language, context=row.context
        )
        row.subject, row.body, row.body_html = rendered.subject, rendered.body, rendered.body_html


def _send_one(row: Notification, senders: _Senders) -> str:
    _render(row)
    if row.channel == Notification.Channel.SMS:
        return senders.sms.send(sms_message_for(row))
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


def sms_message_for(row: Notification) -> SmsMessage:
    """The SMS of a rendered row, with the DLT ids of the registered template it matches."""
    ids = dlt_for(row.kind, row.language, row.body)
    return SmsMessage(
        to=row.recipient,
        text=row.body,
        # An account message has no booking reference: the gateway sees its kind instead.
        reference=row.context.get("reference", "") or (row.kind if row.booking_id is None else ""),
        kind=row.kind,
        language=row.language,
        notification_id=row.pk,
        dlt_template_id=ids.template_id if ids else "",
        dlt_entity_id=ids.entity_id if ids else "",
        sender=ids.header if ids else "",
    )


def _attempt(row: Notification, senders: _Senders) -> _Outcome:
    try:
        provider_id = _send_one(row, senders)
    except PermanentSendError as exc:
        return _Outcome(row, Notification.Status.DEAD, last_error=_error(exc))
    except Exception as exc:  # transient, or unexpected: retry until attempts run out
        return _attempt_failed(row, exc)
    return _Outcome(
        row, Notification.Status.SENT, sent_at=timezone.now(), provider_id=str(provider_id)[:120]
    )


def urgency(row: Notification) -> str:
    """Sort key: the soonest appointment the message is about (the original one of a moved
    booking: that is when the applicant would travel). ISO times in UTC sort as text.
    Account messages come first (""): someone is waiting for them at a screen."""
    if row.booking_id is None:
        return ""
    context = row.context or {}
    times = [
        parse_time(value)
        for value in ((context.get("slot") or {}).get("starts_at"), context.get("from_starts_at"))
        if value
    ]
    return min(times).astimezone(UTC).isoformat() if times else "9999"


@dataclass
class _Released:
    """Claimed and not tried (out of lease time, or the gateway said "too many"): the attempt
    is not counted and the row is due again at `due_at` (None: now)."""

    row: Notification
    due_at: datetime | None = None


class _Pipeline:
    """Claimed rows sent by bounded thread pools, one per channel; outcomes come back to the
    dispatcher's thread, which alone touches the database (claims and records).

    SMS: at most SMS_MAX_IN_FLIGHT requests at once and SMS_GATEWAY_TPS a second (the rate
    limiter); a 429 pauses every sender for its `Retry-After` and the message is tried again.
    E-mail: EMAIL_MAX_IN_FLIGHT threads, each with one SMTP connection kept open for the run.
    Local backends (SMS to files or the console, Django's locmem/console/file e-mail) get one
    thread: nothing to overlap, and more threads would only contend for the interpreter.
    A row whose batch has used half its lease before a thread reaches it is handed back.
    """

    RATE_LIMITED_TRIES = 5

    def __init__(self, senders: _Senders):
        self.senders = senders
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.outstanding = dict.fromkeys(Notification.Channel.values, 0)
        self.pools = {
            Notification.Channel.SMS: ThreadPoolExecutor(
                max_workers=sms_senders_wanted(), thread_name_prefix="sms-send"
            ),
            Notification.Channel.EMAIL: ThreadPoolExecutor(
                max_workers=email_senders_wanted(), thread_name_prefix="email-send"
            ),
        }
        self.limiter = RateLimiter(settings.SMS_GATEWAY_TPS)

    def submit(self, rows: list[Notification], send_until: float) -> None:
        for row in sorted(rows, key=urgency):
            self.outstanding[row.channel] += 1
            self.pools[row.channel].submit(self._work, row, send_until)

    def busy(self) -> bool:
        return any(self.outstanding.values())

    def _work(self, row: Notification, send_until: float) -> None:
        try:
            result = self._send(row, send_until)
        except BaseException as exc:  # never lose a row's answer
            logger.exception("Sending notification %s failed unexpectedly", row.pk)
            result = _Outcome(row, Notification.Status.FAILED, last_error=_error(exc))
            row.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(row.attempts))
        self.results.put(result)

    def _send(self, row: Notification, send_until: float) -> _Outcome | _Released:
        if time.monotonic() >= send_until:
            return _Released(row)
        if row.channel != Notification.Channel.SMS:
            return _attempt(row, self.senders)
        _render(row)
        for _ in range(self.RATE_LIMITED_TRIES):
            if not self.limiter.acquire(stop_at=send_until):
                return _Released(row)
            try:
                provider_id = self.senders.sms.send(sms_message_for(row))
            except RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                self.limiter.pause(wait)
                if exc.retry_after is None:
                    return _attempt_failed(row, exc)
                if time.monotonic() + wait >= send_until:
                    return _Released(row, timezone.now() + timedelta(seconds=wait))
                continue
            except PermanentSendError as exc:
                return _Outcome(row, Notification.Status.DEAD, last_error=_error(exc))
            except Exception as exc:
                return _attempt_failed(row, exc)
            return _Outcome(
                row,
                Notification.Status.SENT,
                sent_at=timezone.now(),
                provider_id=str(provider_id)[:120],
            )
        return _Released(row, timezone.now() + timedelta(seconds=1))

    def collect(self, timeout: float) -> list:
        """Whatever finished, waiting up to `timeout` seconds for the first of it."""
        done = []
        try:
            done.append(self.results.get(timeout=max(0.0, timeout)))
            while True:
                done.append(self.results.get_nowait())
        except queue.Empty:
            pass
        for item in done:
            self.outstanding[item.row.channel] -= 1
        return done

    def shutdown(self) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=True)


def _attempt_failed(row: Notification, exc: Exception) -> _Outcome:
    logger.info("Notification %s attempt %s failed: %s", row.pk, row.attempts, exc)
    if row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        return _Outcome(row, Notification.Status.DEAD, last_error=_error(exc))
    row.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(row.attempts))
    return _Outcome(row, Notification.Status.FAILED, last_error=_error(exc))


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


def _body_to_keep(outcome: _Outcome) -> str:
    """The text recorded on the row. A one-time code (SECRET_KINDS) is never kept in the
    clear: a finished row keeps its text with the digits masked, one to retry keeps none and
    is rendered again from its sealed context."""
    row = outcome.row
    if row.kind not in SECRET_KINDS:
        return row.body
    if outcome.status in (Notification.Status.SENT, Notification.Status.DEAD):
        return _DIGITS.sub(lambda m: "*" * len(m.group()), row.body)
    return ""


# A one-time code in a text: four or more digits in a row (the minutes are fewer).
_DIGITS = re.compile(r"\d{4,}")


def _record(outcomes: list[_Outcome], released: list[_Released], token: int) -> None:
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
                    body=_body_to_keep(o),
                    body_html=o.row.body_html,
                )
                for o in outcomes
            ],
            token=token,
        )
    # Claimed but not tried: the attempt does not count, and the rows are due again now (or
    # when the gateway said to come back).
    by_due: dict[datetime | None, list[int]] = {}
    for item in released:
        due_at = item.due_at.replace(microsecond=0) if item.due_at else None
        by_due.setdefault(due_at, []).append(item.row.pk)
    for due_at, pks in by_due.items():
        Notification.objects.filter(pk__in=pks, status__in=DUE_STATUSES, claimed_by=token).update(
            attempts=F("attempts") - 1, next_attempt_at=due_at or timezone.now(), claimed_by=None
        )


def notifications_dispatch(
    *, batch_size: int | None = None, time_budget_seconds: float | None = None
) -> DispatchResult:
    """Send due rows until none is due or the time budget is spent.

    Each channel is claimed in batches of its own, and the next batch of a channel is claimed
    as soon as fewer than a batch of its rows wait to be sent, so the senders never run dry
    while rows are due and a slow channel (e-mail) never holds up a fast one (SMS)."""
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
    channels = Notification.Channel.values
    # The run's token, held as a session lock for as long as it may hold claimed rows: if the
    # process dies, the lock goes with its connection and the sweep hands the rows back.
    with locks.session_lock(locks.DISPATCHER, token):
        pipeline = _Pipeline(senders)
        pending: list = []
        last_record = time.monotonic()
        try:
            # When a channel's claim found nothing, it is not asked again before this time.
            quiet_until = dict.fromkeys(channels, 0.0)
            while True:
                now = time.monotonic()
                if now >= deadline:
                    result.out_of_time = True
                    break
                for channel in channels:
                    if pipeline.outstanding[channel] >= batch_size or now < quiet_until[channel]:
                        continue
                    batches_before = result.batches
                    rows = _claim(batch_size, token, channel=channel, result=result)
                    if rows:
                        pipeline.submit(rows, min(time.monotonic() + lease_safe_seconds, deadline))
                        result.batches += 1
                        result.claimed += len(rows)
                    elif result.batches == batches_before:
                        quiet_until[channel] = now + QUIET_SECONDS
                if not pipeline.busy():
                    if all(q > now for q in quiet_until.values()):
                        break  # nothing due on any channel, nothing in flight
                    continue
                pending += pipeline.collect(timeout=0.2)
                if pending and time.monotonic() - last_record >= RECORD_EVERY_SECONDS:
                    _record_items(pending, token, result)
                    pending, last_record = [], time.monotonic()
        finally:
            # Rows still queued see their lease time pass at once and come back as released.
            pipeline.shutdown()
            while pipeline.busy():
                pending += pipeline.collect(timeout=1.0)
            _record_items(pending, token, result)
            senders.close()
    if result.claimed:
        logger.info("Notification dispatch: %s", result)
    return result


def _record_items(items: list, token: int, result: DispatchResult) -> None:
    outcomes = [item for item in items if isinstance(item, _Outcome)]
    released = [item for item in items if isinstance(item, _Released)]
    _record(outcomes, released, token)
    _tally(result, outcomes)
    result.released += len(released)


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
