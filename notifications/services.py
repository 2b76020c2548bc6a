"""Outbox use cases: write rows, start the dispatcher after commit, retry what failed.

The outbox delivers messages and knows nothing of what they are about: the app whose events
produce messages builds the rows (for bookings, slots/messages.py) and hands them to
`notifications_write` inside the transaction that records the events, so a message exists
exactly when its event does. The dispatcher (notifications/dispatcher.py, run by
`dispatch_notifications_task`) sends them later, outside any transaction. docs/NOTIFICATIONS.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import ACCOUNT_KINDS, SECRET_KINDS, Notification
from notifications.sealing import seal
from notifications.tasks import (
    DISPATCH_QUEUED_KEY,
    DISPATCH_QUEUED_TTL,
    dispatch_notifications_task,
)
from rto_booking.queueing import enqueue_now

logger = logging.getLogger(__name__)


def notifications_write(*, rows: Sequence[Notification]) -> int:
    """Write unsaved outbox rows in the caller's transaction; dispatch after it commits.

    Idempotent: a row already written for the same event key and channel is skipped by the
    unique (event_key, channel) constraint. Returns the number of rows attempted."""
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    notifications_dispatch_on_commit()
    return len(rows)


def _dispatch_after_commit() -> None:
    """Publish a dispatcher, once for a whole burst of commits.

    DISPATCH_QUEUED_KEY is set while a published dispatcher has not started yet, and the
    dispatcher clears it before it claims rows: a row committed while the key is set is
    committed before that dispatcher's first claim, so it sees the row, and a burst of bookings
    publishes one task per dispatcher run instead of one per booking. `cache.add` answers None
    when Redis is unreachable (the cache ignores its errors): then publish (or fail) anyway.
    """
    eager = dispatch_notifications_task.app.conf.task_always_eager
    if not eager and cache.add(DISPATCH_QUEUED_KEY, 1, timeout=DISPATCH_QUEUED_TTL) is False:
        return  # a dispatcher is queued and has not started: it will see our rows
    if not enqueue_now(dispatch_notifications_task):
        cache.delete(DISPATCH_QUEUED_KEY)  # nothing was queued: let the next commit try again


def notifications_dispatch_on_commit() -> None:
    """Start the dispatcher once the current transaction commits (at once outside one).

    A transaction that writes rows several times (a reschedule's chunks) registers several
    callbacks; after the commit the first publishes and the others find the key set. A
    rolled-back transaction's callbacks are dropped by Django. Publishing errors are logged and
    swallowed (Redis down): the sweep sends the rows when it is back."""
    transaction.on_commit(_dispatch_after_commit, robust=True)


def account_sms_queue(
    *, applicant, kind: str, context: dict[str, Any], event_key: str
) -> Notification | None:
    """Queue an SMS about `applicant`'s account (ACCOUNT_KINDS: no booking) in the outbox.

    Written in the caller's transaction, sent by the dispatcher after it commits (never from
    the web request: a slow or down gateway must not hold a registration). `context` is plain
    JSON for the template; a `code` in it (SECRET_KINDS) is sealed (notifications/sealing.py)
    and an `expires_at` (ISO) makes the dispatcher drop the message once it is too late to be
    of use. Idempotent per `event_key`: returns None when that message was already queued.
    Account messages are claimed ahead of booking messages and are not held by
    SMS_MAX_PER_HOUR (their own limits are applied where they are asked for)."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"{kind!r} is not an account message")
    context = dict(context)
    if kind in SECRET_KINDS and "code" in context:
        context["code_sealed"] = seal(str(context.pop("code")))
    now = timezone.now()
    row = Notification(
        booking=None,
        applicant=applicant,
        event_key=event_key,
        channel=Notification.Channel.SMS,
        kind=kind,
        language=applicant.preferred_language or "en",
        recipient=applicant.mobile,
        context=context,
        status=Notification.Status.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the caller's work intact
            row.save(force_insert=True)
    except IntegrityError:
        return None  # this event's message is queued already
    notifications_dispatch_on_commit()
    return row


UNDELIVERED = (Notification.Delivery.UNDELIVERED, Notification.Delivery.EXPIRED)


def sms_delivery_record(*, provider_id: str, delivery: str) -> Notification | None:
    """A gateway's delivery report for the SMS it accepted as `provider_id`. Returns the row
    (None: no SMS has that id). A later report replaces an earlier one, except that
    "delivered" is final (a gateway may report expiry of a retry after the delivery)."""
    if delivery not in Notification.Delivery.values:
        raise ValueError(f"Unknown delivery state {delivery!r}")
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update()
            .filter(channel=Notification.Channel.SMS, provider_id=provider_id)
            .exclude(provider_id="")
            .order_by("-id")
            .first()
        )
        if row is None:
            return None
        if row.delivery != Notification.Delivery.DELIVERED:
            row.delivery = delivery
            row.delivery_reported_at = timezone.now()
            row.save(update_fields=["delivery", "delivery_reported_at"])
    return row


def notifications_retry(*, ids: Iterable[int], acting_user) -> int:
    """Queue dead or failed rows again now, with a fresh set of attempts. Returns rows changed.

    `last_error` is kept until the next attempt, so the admin still shows why it failed; the
    admin records who asked (LogEntry, see notifications/admin.py)."""
    with transaction.atomic():
        rows = Notification.objects.filter(
            pk__in=list(ids), status__in=[Notification.Status.DEAD, Notification.Status.FAILED]
        )
        changed = list(rows.values_list("pk", flat=True))
        Notification.objects.filter(pk__in=changed).update(
            status=Notification.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        if changed and acting_user is not None:
            from django.contrib.admin.models import CHANGE, LogEntry

            LogEntry.objects.log_actions(
                user_id=acting_user.pk,
                queryset=Notification.objects.filter(pk__in=changed),
                action_flag=CHANGE,
                change_message="Queued again for sending.",
                single_object=False,
            )
        if changed:
            notifications_dispatch_on_commit()
    return len(changed)
