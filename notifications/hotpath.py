"""The outbox's hand-written statement (STYLE.md, "Speed-ups"; the booking's are in
slots/hotpath.py: delivery knows no booking table, so its own live here).

* `outcomes_record` — every outcome of a dispatcher batch (sent, retrying, dead, with its
  rendered text) in one `UPDATE … FROM unnest(…)`, its values passed as nine arrays. Why:
  Django's `bulk_update` writes a CASE per column and row, which grows with the square of the
  batch. Gain: 3.5–4.4× the drain rate of `bench/bench_outbox.py` (docs/PERFORMANCE.md, with
  `BENCH_PLAIN_RECORD=1` for the plain form). Equal: tests/notifications/test_hotpath.py::
  test_outcomes_record_writes_what_bulk_update_writes. The plain form is
  tests/notifications/plain_forms.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

_RECORD_SQL = """
UPDATE notifications_notification AS n
SET status = v.status, provider_id = v.provider_id, sent_at = v.sent_at,
    next_attempt_at = v.next_attempt_at, last_error = v.last_error,
    subject = v.subject, body = v.body, body_html = v.body_html, claimed_by = NULL
FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::timestamptz[],
            %s::text[], %s::varchar[], %s::text[], %s::text[])
     AS v(id, status, provider_id, sent_at, next_attempt_at, last_error, subject, body, body_html)
WHERE n.id = v.id AND n.status IN ('pending', 'failed') AND n.claimed_by = %s
"""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a send attempt leaves on its row."""

    pk: int
    status: str
    provider_id: str
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str
    subject: str
    body: str
    body_html: str


# What a record writes from a `Recorded` (and `claimed_by`, set to NULL), in `_RECORD_SQL`'s order.
RECORDED_FIELDS = (
    "status",
    "provider_id",
    "sent_at",
    "next_attempt_at",
    "last_error",
    "subject",
    "body",
    "body_html",
)
_COLUMNS = ("pk", *RECORDED_FIELDS)


def outcomes_record(outcomes: list[Recorded], *, token: int) -> None:
    """Write the outcomes on the rows still claimed under `token` (and release the claim)."""
    if not outcomes:
        return
    columns = [[getattr(o, name) for o in outcomes] for name in _COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, [*columns, token])
