"""The alternatives the booking benchmark measures side by side with the code as it is.

Each is a candidate speed-up (or the plain form of a kept one), applied to a gunicorn worker by
bench/gunicorn_variant.py; `bench_booking.py --variants a,b` runs one contender per name on its
own copy of the database. A candidate earns a place in the product only with an A/B of at least
10 % (STYLE.md, "Speed-ups"); docs/PERFORMANCE.md records each result, kept or not.
"""

from __future__ import annotations

import threading
import time


def _plain(*names: str):
    """slots/hotpath.py's statements (the named ones, or all) replaced by their plain forms."""

    def apply(worker) -> None:
        from tests.slots.plain_forms import install_plain_forms

        install_plain_forms(*names)

    return apply


def _hand_answer(worker) -> None:
    """The booking answer written out by hand instead of DRF's walk of the declared fields."""
    from django.utils import timezone

    import api.serializers as serializers

    def iso(value, tz):
        if value is None:
            return None
        text = value.astimezone(tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    def to_representation(self, booking):
        tz = timezone.get_current_timezone()
        slot = booking.slot
        return {
            "reference": booking.reference,
            "status": booking.status,
            "office": booking.office.code,
            "service": booking.service.slug,
            "slot": {
                "id": slot.pk,
                "starts_at": iso(slot.starts_at, tz),
                "ends_at": iso(slot.ends_at, tz),
            },
            "priority": booking.priority,
            "created_at": iso(booking.created_at, tz),
            "history": [
                {
                    "at": iso(e.at, tz),
                    "kind": e.kind,
                    "from_starts_at": iso(e.from_starts_at, tz),
                    "to_starts_at": iso(e.to_starts_at, tz),
                    "outage": e.outage_id,
                    "reason": e.reason,
                }
                for e in booking.history_rows
            ],
            "notifications": [
                {
                    "channel": n.channel,
                    "kind": n.kind,
                    "status": n.status,
                    "created_at": iso(n.created_at, tz),
                    "sent_at": iso(n.sent_at, tz),
                    "delivery": n.delivery if isinstance(n.delivery, str) and n.delivery else None,
                }
                for n in booking.notification_rows
            ],
        }

    serializers.BookingOutSerializer.to_representation = to_representation


def _raw_applicant(worker) -> None:
    """The token's applicant read with a fixed statement instead of the ORM."""
    from django.db import connection

    import applicants.tokens as tokens
    from applicants.models import Applicant

    fields = Applicant._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    names = [f.attname for f in fields]
    sql = f'SELECT {columns} FROM "{Applicant._meta.db_table}" WHERE "id" = %s'

    def applicant_by_id(applicant_id):
        with connection.cursor() as cursor:
            cursor.execute(sql, [applicant_id])
            row = cursor.fetchone()
        return None if row is None else Applicant.from_db(connection.alias, names, row)

    tokens.applicant_by_id = applicant_by_id


def _no_health_check(worker) -> None:
    """No `SELECT 1` before a persistent connection's first query of a request."""
    from django.db import connections

    connections["default"].settings_dict["CONN_HEALTH_CHECKS"] = False


def _background_publish(worker) -> None:
    """The dispatcher publish (the flag and the task) from a thread of the process, at most
    every 50 ms, instead of one `cache.add` after every commit."""
    import notifications.services as services

    publish = services._dispatch_after_commit
    wanted = threading.Event()

    def run():
        while True:
            wanted.wait()
            time.sleep(0.05)
            wanted.clear()
            publish()

    threading.Thread(target=run, daemon=True).start()
    services._dispatch_after_commit = wanted.set


def _api_without_session(worker) -> None:
    """Sessions, the session user and messages skipped under /api/v1/ (DRF views that use none
    of them)."""
    from django.conf import settings

    skipped = {
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
    browser = worker.wsgi
    from django.core.handlers.wsgi import WSGIHandler

    with _settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m not in skipped]):
        api = WSGIHandler()

    def application(environ, start_response):
        target = api if environ.get("PATH_INFO", "").startswith("/api/v1/") else browser
        return target(environ, start_response)

    worker.wsgi = application


def _settings(**values):
    from django.test import override_settings

    return override_settings(**values)


def _control(worker) -> None:
    """Nothing: the code as it is, as another contender. Its distance from the first one is the
    noise of the run, against which the others are read."""


VARIANTS = {
    "control": _control,
    # The plain forms of the kept speed-ups (tests/slots/plain_forms.py).
    "plain-forms": _plain(),
    "plain-statements": _plain("slot_with_checks", "booking_insert"),
    # Candidates measured and not kept (docs/PERFORMANCE.md).
    "hand-answer": _hand_answer,
    "raw-applicant": _raw_applicant,
    "no-health-check": _no_health_check,
    "background-publish": _background_publish,
    "api-without-session": _api_without_session,
}


def apply(name: str, worker) -> None:
    VARIANTS[name](worker)
