"""Celery tasks of the slots app: thin wrappers that call one service each."""

from celery import shared_task
from django.conf import settings

from slots.services.slot_generation import slots_generate


@shared_task(name="slots.tasks.generate_slots")
def generate_slots(days: int | None = None) -> dict:
    """Keep the slot horizon filled (beat, hourly). Idempotent."""
    result = slots_generate(days=days or settings.SLOT_GENERATION_DAYS)
    return {"created": result.created, "updated": result.updated}
