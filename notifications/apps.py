from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from celery import signals

        from notifications import metrics
        from notifications.readiness import email_ready, sms_ready
        from rto_booking.health import register_readiness_check
        from rto_booking.metrics import register_database_metrics

        register_readiness_check("email", email_ready)
        register_readiness_check("sms", sms_ready)
        register_database_metrics(metrics.database_metrics)
        signals.task_postrun.connect(metrics.count_dispatch_outcomes, weak=False)
        signals.worker_ready.connect(_resume_lost_dispatch, weak=False)


def _resume_lost_dispatch(**kwargs) -> None:
    """A worker that starts hands back the rows of a dispatcher that died and sends what is
    due at once, instead of waiting for beat's next sweep."""
    from notifications.tasks import sweep_outbox_task
    from rto_booking.queueing import enqueue_now

    enqueue_now(sweep_outbox_task)
