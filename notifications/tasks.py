"""Celery tasks of the notifications app (queue `notifications`): thin, idempotent."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from notifications.services import (
    _dispatch_started,
    notifications_dispatch,
    notifications_dispatch_followup,
    notifications_due_count,
    notifications_followup_started,
    notifications_release_orphans,
    notifications_write_reminders,
)
from rto_booking.queueing import enqueue_now


@shared_task(name="notifications.tasks.dispatch_notifications")
def dispatch_notifications(followup: bool = False) -> dict:
    """Send every due outbox row. Safe to run many at once: rows are claimed SKIP LOCKED.

    `followup` marks the delayed run a previous dispatcher asked for (see
    `notifications_dispatch_followup`): it frees the slot so the next retry can be scheduled.
    """
    if followup:
        notifications_followup_started()
    _dispatch_started()  # before claiming: commits after this point publish a new run
    result = notifications_dispatch()
    followup = notifications_dispatch_followup(result=result)
    return {**asdict(result), "followup": followup}


@shared_task(name="notifications.tasks.sweep_outbox")
def sweep_outbox() -> int:
    """Beat, every RECONCILE_INTERVAL_SECONDS (and each worker once at start): hand back the
    rows of a dispatcher that died mid-batch, then start a dispatcher if rows are due (a
    publish was lost while Redis was down, or a retry fell due). Returns the due rows."""
    notifications_release_orphans()
    due = notifications_due_count()
    if due:
        enqueue_now(dispatch_notifications)
    return due


@shared_task(name="notifications.tasks.send_reminders")
def send_reminders() -> int:
    """Beat, every 15 minutes: write tomorrow's reminders (idempotent) and dispatch them."""
    return notifications_write_reminders()
