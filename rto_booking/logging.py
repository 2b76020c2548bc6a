"""Request ids and log formatting: one id follows a request into every task it enqueues.

* `RequestIdMiddleware` (rto_booking.middleware) takes the `X-Request-ID` header (or makes an
  id), stores it in `request_id_var` and returns it in the response header.
* `RequestContextFilter`, on the console handler, puts `request_id` (and, inside a Celery task,
  `task_id`/`task_name`) on every log record, so the JSON formatter writes them as fields.
* rto_booking.celery copies the id into the headers of every task published while it is set
  (`before_task_publish`) and restores it in the worker (`task_prerun`), so the SMS sent for a
  booking logs the id of the request that made the booking.

`LOG_FORMAT=json` (the default when DJANGO_DEBUG is false) writes one JSON object per line
through python-json-logger; `plain` writes readable lines for a terminal.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
task_var: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "celery_task", default=None
)

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is taken as it is when it looks like an id (a proxy's UUID, a trace id);
# anything else (too long, spaces, control characters) is replaced so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_from_header(value: str | None) -> str:
    """The client's id when it is a plausible id, otherwise a fresh one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return request_id_new()


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `task_id` and `task_name` to every record (None when not set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs after the middleware has finished: the request still knows.
            request = getattr(record, "request", None)
            record.request_id = request_id_var.get() or getattr(request, "request_id", None)
        task = task_var.get()
        if not hasattr(record, "task_id"):
            record.task_id = task[0] if task else None
        if not hasattr(record, "task_name"):
            record.task_name = task[1] if task else None
        return True


class PlainFormatter(logging.Formatter):
    """Readable lines; the request id in brackets when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [rid={request_id}]" if request_id else line


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING dict for settings.py: one console handler, JSON or plain."""
    formatters = {
        "plain": {
            "()": "rto_booking.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            # The fields every line has; `extra={...}` adds more, exceptions add exc_info.
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
            "%(task_id)s %(task_name)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "rto_booking.logging.RequestContextFilter"}},
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django's own "Not Found"/"Internal Server Error" lines duplicate rto.request.
            "django.request": {"level": "ERROR"},
        },
    }
