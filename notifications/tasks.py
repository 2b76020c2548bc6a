"""Celery tasks of the notifications app (queue `notifications`): thin, idempotent.

They call the dispatcher (notifications/dispatcher.py) and own their follow-ups: a run that ran
out of time hands over to a fresh one, and a retry falling due soon gets one delayed run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from notifications.dispatcher import (
    DispatchResult,
    notifications_dispatch,
    notifications_due_count,
    notifications_next_due,
    notifications_release_orphans,
)
from rto_booking.queueing import enqueue_now

logger = logging.getLogger(__name__)

# Set while a published dispatcher has not started (notifications.services); cleared by the
# dispatcher before it claims rows. The expiry only bounds the cost of a lost message.
DISPATCH_QUEUED_KEY = "notifications:dispatch-queued"
DISPATCH_QUEUED_TTL = 30
# A dispatcher that leaves rows waiting for a retry asks for one follow-up run when the
# earliest is due within this many seconds; later retries are the sweep's job.
FOLLOWUP_HORIZON_SECONDS = 120
FOLLOWUP_CACHE_KEY = "notifications:dispatch-followup"


@shared_task(name="notifications.tasks.dispatch_notifications")
def dispatch_notifications_task(followup: bool = False) -> dict:
    """Send every due outbox row. Safe to run many at once: rows are claimed SKIP LOCKED.

    `followup` marks the delayed run a previous dispatcher asked for: it frees the marker so
    the next retry can be scheduled."""
    if followup:
        cache.delete(FOLLOWUP_CACHE_KEY)
    cache.delete(DISPATCH_QUEUED_KEY)  # before claiming: commits after this publish a new run
    result = notifications_dispatch()
    return {**asdict(result), "followup": _follow_up(result)}


def _follow_up(result: DispatchResult) -> str:
    """Hand over to a fresh run when time ran out, and ask for one delayed run when a retry
    falls due soon (the sweep covers the rest). Nothing when tasks run eagerly, where a
    "later" run would run at once, recursively. Returns what it did."""
    if dispatch_notifications_task.app.conf.task_always_eager:
        return "eager"
    if result.out_of_time:
        enqueue_now(dispatch_notifications_task)
        return "continued"
    next_due = notifications_next_due()
    if next_due is None:
        return "idle"
    countdown = max(0.0, (next_due - timezone.now()).total_seconds())
    if countdown > FOLLOWUP_HORIZON_SECONDS:
        return "sweep"
    eta = timezone.now().timestamp() + countdown
    try:
        # One delayed run for the whole outbox, however many dispatchers finish; a second one
        # only when it is due clearly earlier than the one already waiting.
        if not cache.add(FOLLOWUP_CACHE_KEY, eta, timeout=FOLLOWUP_HORIZON_SECONDS + 60):
            waiting = cache.get(FOLLOWUP_CACHE_KEY)
            if waiting is not None and float(waiting) <= eta + 1:
                return "already-scheduled"
            cache.set(FOLLOWUP_CACHE_KEY, eta, timeout=FOLLOWUP_HORIZON_SECONDS + 60)
        dispatch_notifications_task.apply_async(
            kwargs={"followup": True}, countdown=countdown + 0.2
        )
    except Exception:
        logger.warning("Could not schedule a follow-up dispatch; the sweep will", exc_info=True)
        return "failed"
    return "scheduled"


@shared_task(name="notifications.tasks.sweep_outbox")
def sweep_outbox_task() -> int:
    """Beat, every RECONCILE_INTERVAL_SECONDS (and each worker once at start): hand back the
    rows of a dispatcher that died mid-batch, then start a dispatcher if rows are due (a
    publish was lost while Redis was down, or a retry fell due). Returns the due rows."""
    notifications_release_orphans()
    due = notifications_due_count()
    if due:
        enqueue_now(dispatch_notifications_task)
    return due
