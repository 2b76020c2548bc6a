"""Celery tasks of the slots app: thin wrappers that call one service each."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from slots.services.slot_generation import slots_generate


@shared_task(name="slots.tasks.generate_slots")
def generate_slots(days: int | None = None) -> dict:
    """Keep the slot horizon filled (beat, hourly). Idempotent."""
    result = slots_generate(days=days or settings.SLOT_GENERATION_DAYS)
    return {"created": result.created, "updated": result.updated}


@shared_task(name="slots.tasks.mark_no_shows")
def mark_no_shows() -> int:
    """Close the books on past days: confirmed bookings nobody checked in become no-shows."""
    from slots.services.bookings import bookings_mark_no_shows

    return bookings_mark_no_shows()


@shared_task(
    name="slots.tasks.reschedule_outage",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=10,
)
def reschedule_outage(outage_id: int) -> dict | None:
    """Move every booking affected by the outage (rescheduling queue). Idempotent."""
    from slots.services.outages import outage_reschedule

    outage = outage_reschedule(outage_id=outage_id)
    if outage is None:
        return None
    return {"state": outage.state, "moved": outage.moved, "needs_new_slot": outage.needs_new_slot}


@shared_task(name="slots.tasks.reconcile_outages")
def reconcile_outages() -> list[int]:
    """Re-run outages whose run was lost, or whose window holds a booking again (beat)."""
    from slots.services.outages import outages_reconcile

    return outages_reconcile()
