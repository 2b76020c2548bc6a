"""Celery tasks of the slots app: each takes ids, calls one service, and owns its retries and
its follow-up publishes. Services never import this module's callers back: they enqueue with
`rto_booking.queueing.enqueue_on_commit(<task>, …)` after importing the task from here."""

from datetime import date

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError

from rto_booking.queueing import enqueue_now
from slots.messages import sms_delivery_poll
from slots.services.ballot_draw import ballot_draw, ballots_due
from slots.services.bookings import bookings_mark_no_shows
from slots.services.reminders import reminders_write, unconfirmed_bookings_process
from slots.services.reschedule import outage_reschedule, outages_needing_a_run
from slots.services.slot_generation import slots_generate
from slots.services.waitlist import offers_make, offers_sweep

# Set when the reconcile publishes an outage's run, for two of its rounds: a message waiting
# behind a long run in the queue is not lost, and need not be doubled every time the reconcile
# comes round. The run deletes it when it starts: from then on its lock tells whether it lives,
# so a run killed right after a publish is published again by the very next round.
REPUBLISH_KEY = "outages:republished:{id}"


@shared_task(name="slots.tasks.generate_slots")
def generate_slots_task(days: int | None = None) -> dict:
    """Keep the slot horizon filled (beat, hourly). Idempotent."""
    result = slots_generate(days=days or settings.SLOT_GENERATION_DAYS)
    return {"created": result.created, "updated": result.updated}


@shared_task(name="slots.tasks.mark_no_shows")
def mark_no_shows_task() -> int:
    """Close the books on past days: confirmed bookings nobody checked in become no-shows."""
    return bookings_mark_no_shows()


@shared_task(
    name="slots.tasks.reschedule_outage",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=10,
)
def reschedule_outage_task(outage_id: int) -> dict | None:
    """Move every booking affected by the outage (rescheduling queue). Idempotent."""
    cache.delete(REPUBLISH_KEY.format(id=outage_id))  # the message has arrived
    outage = outage_reschedule(outage_id=outage_id)
    if outage is None:
        return None
    return {"state": outage.state, "moved": outage.moved, "needs_new_slot": outage.needs_new_slot}


@shared_task(name="slots.tasks.reconcile_outages")
def reconcile_outages_task() -> list[int]:
    """Beat, every RECONCILE_INTERVAL_SECONDS, and every worker once at start: publish a run
    for each outage whose run died or was lost, or whose window holds a booking again."""
    published = []
    for outage_id in outages_needing_a_run():
        marker = REPUBLISH_KEY.format(id=outage_id)
        if cache.add(marker, 1, timeout=settings.RECONCILE_INTERVAL_SECONDS * 2) is False:
            continue  # published a moment ago; its message may still be on its way
        if enqueue_now(reschedule_outage_task, outage_id):
            published.append(outage_id)
        else:
            cache.delete(marker)  # nothing went out: try again next time
    return published


@shared_task(name="slots.tasks.send_reminders")
def send_reminders_task() -> int:
    """Beat, every 15 minutes: write the reminders now due, REMINDER_HOURS ahead (idempotent);
    they are sent after."""
    return reminders_write()


@shared_task(name="slots.tasks.release_unconfirmed")
def release_unconfirmed_task() -> dict:
    """Beat, every 5 minutes: with RELEASE_UNCONFIRMED, release the bookings whose last call
    went unanswered and write the last calls now due (idempotent); nothing otherwise."""
    return unconfirmed_bookings_process()


@shared_task(name="slots.tasks.poll_sms_delivery")
def poll_sms_delivery_task() -> dict:
    """Beat, every SMS_DLR_POLL_SECONDS: fetch the delivery reports of a gateway that does not
    push them (SMS_BACKEND=msdg); nothing to do for the others."""
    return sms_delivery_poll()


@shared_task(
    name="slots.tasks.waitlist_offers",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=5,
)
def waitlist_offers_task(office_id: int, service_id: int) -> int:
    """After a commit that freed seats of an office × service: offer them to its waiting
    list. Idempotent (the beat sweep does the same for every office × service)."""
    return len(offers_make(office_id=office_id, service_id=service_id))


@shared_task(name="slots.tasks.waitlist_offers_sweep")
def waitlist_offers_sweep_task() -> int:
    """Beat, every 30 seconds: expire unanswered offers and offer every free seat to the
    waiting lists (whatever freed it). Idempotent."""
    return offers_sweep()


@shared_task(name="slots.tasks.draw_ballots")
def draw_ballots_task() -> int:
    """Beat, every 30 seconds: publish the draw of every ballot of a newly opened day that has
    closed (RELEASE_BALLOT_MINUTES after the day opened), one task per office × service, so
    the worker processes draw a statewide midnight side by side. Returns how many."""
    due = ballots_due()
    for office_id, service_id, day in due:
        enqueue_now(draw_ballot_task, office_id, service_id, day.isoformat())
    return len(due)


@shared_task(
    name="slots.tasks.draw_ballot",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=5,
)
def draw_ballot_task(office_id: int, service_id: int, day: str) -> dict:
    """Draw one office × service's ballot of `day`. Idempotent; one draw of it at a time."""
    result = ballot_draw(office_id=office_id, service_id=service_id, day=date.fromisoformat(day))
    return {"won": result.won, "lost": result.lost, "void": result.void}
