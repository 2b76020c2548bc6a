"""The Celery application: `celery -A rto_booking worker` / `celery -A rto_booking beat`.

All configuration lives in Django settings under the CELERY_ prefix. The signal handlers below
are operations only (docs/OPERATIONS.md): they carry the request id into tasks, time tasks for
/metrics and write the worker heartbeats that /readyz reads. None of them may fail a task.
"""

import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rto_booking.settings")

app = Celery("rto_booking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)

REQUEST_ID_TASK_HEADER = "request_id"


# --- Request ids: from the request that published a task into the task's log lines -------------


@signals.before_task_publish.connect
def _publish_request_id(headers=None, **kwargs):
    from rto_booking.logging import current_request_id

    request_id = current_request_id()
    if request_id and headers is not None and REQUEST_ID_TASK_HEADER not in headers:
        headers[REQUEST_ID_TASK_HEADER] = request_id


_context_tokens: dict[str, tuple] = {}


@signals.task_prerun.connect
def _task_prerun(task_id=None, task=None, **kwargs):
    from rto_booking import metrics
    from rto_booking.logging import request_id_var, task_var

    metrics.task_started(task_id)
    request_id = getattr(task.request, REQUEST_ID_TASK_HEADER, None)
    # An eager task (embedded mode) runs inside the request: it keeps the request's id.
    request_token = request_id_var.set(request_id) if request_id else None
    _context_tokens[task_id] = (request_token, task_var.set((task_id, task.name)))


@signals.task_postrun.connect
def _task_postrun(task_id=None, task=None, state=None, retval=None, **kwargs):
    from rto_booking import metrics
    from rto_booking.logging import request_id_var, task_var

    try:
        metrics.task_finished(task_id, task.name, state)
    except Exception:
        logger.warning("metrics: could not record task %s", task_id, exc_info=True)
    request_token, task_token = _context_tokens.pop(task_id, (None, None))
    if task_token is not None:
        task_var.reset(task_token)
    if request_token is not None:
        request_id_var.reset(request_token)


# --- Worker heartbeats for /readyz, and the worker's metrics port --------------------------------

_worker: dict = {}


def _beat() -> None:
    from django.conf import settings

    from rto_booking.health import heartbeat_write

    if not settings.REDIS_URL or not _worker:
        return
    try:
        heartbeat_write(
            redis_url=settings.REDIS_URL, hostname=_worker["hostname"], queues=_worker["queues"]
        )
        _worker["failing"] = False
    except Exception as error:
        if not _worker.get("failing"):
            logger.warning("Could not write the worker heartbeat: %s", error)
        _worker["failing"] = True


@signals.worker_ready.connect
def _worker_ready(sender=None, **kwargs):
    from django.conf import settings

    _worker["hostname"] = sender.hostname
    _worker["queues"] = sorted(sender.app.amqp.queues.consume_from or [])
    _beat()  # at once: /readyz goes green without waiting for the first Celery heartbeat
    if settings.WORKER_METRICS_PORT:
        from rto_booking.metrics import worker_metrics_server

        try:
            worker_metrics_server(settings.WORKER_METRICS_PORT)
        except OSError as error:
            logger.warning(
                "metrics: cannot listen on port %s: %s", settings.WORKER_METRICS_PORT, error
            )


@signals.heartbeat_sent.connect
def _heartbeat_sent(**kwargs):
    # Celery's worker heartbeat, every 2 s from the worker's main loop (not with
    # --without-heartbeat): a beat means the consumer is alive and reaches Redis.
    _beat()


@signals.worker_process_shutdown.connect
def _worker_process_shutdown(pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
