"""The plain form of notifications/hotpath.py's statement: what Django's bulk_update does."""

from __future__ import annotations

from notifications import hotpath
from notifications.models import Notification


def outcomes_record_plain(outcomes: list[hotpath.Recorded], *, token: int) -> None:
    rows = {
        row.pk: row
        for row in Notification.objects.filter(
            pk__in=[o.pk for o in outcomes], status__in=["pending", "failed"], claimed_by=token
        )
    }
    for o in outcomes:
        row = rows.get(o.pk)
        if row is None:
            continue
        for name in hotpath.RECORDED_FIELDS:
            setattr(row, name, getattr(o, name))
        row.claimed_by = None
    Notification.objects.bulk_update(
        list(rows.values()),
        [*hotpath.RECORDED_FIELDS, "claimed_by"],
        batch_size=200,
    )


def install_plain_record() -> None:
    """Put the plain form in place of the statement for good (a benchmark's drain process)."""
    hotpath.outcomes_record = outcomes_record_plain
