from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlotsConfig(AppConfig):
    name = "slots"
    verbose_name = _("Offices, slots and bookings")

    def ready(self) -> None:
        from celery import signals

        from notifications.dlt import longest_values_source_set
        from rto_booking.metrics import register_database_metrics
        from slots import metrics
        from slots.sms_values import sms_longest_values

        register_database_metrics(metrics.database_metrics)
        longest_values_source_set(sms_longest_values)
        register_database_metrics(_told_metrics)
        signals.worker_ready.connect(_resume_lost_reschedules, weak=False)


def _resume_lost_reschedules(**kwargs) -> None:
    """A worker that starts looks for reschedules whose run died (killed worker, lost message)
    at once, instead of waiting for beat's next round (slots.services.outages.outages_reconcile)."""
    from rto_booking.queueing import enqueue_now
    from slots.tasks import reconcile_outages_task

    enqueue_now(reconcile_outages_task)


def _told_metrics() -> list:
    from slots.told import told_metrics

    return told_metrics()
