"""notifications/hotpath.py's statement against its plain form (tests/notifications/
plain_forms.py)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications import hotpath
from notifications.models import Notification
from tests.factories import NotificationFactory
from tests.notifications.plain_forms import outcomes_record_plain

pytestmark = pytest.mark.django_db

# What a record may change; the rest of each row comes from the factory and differs per run.
WRITTEN = (*hotpath.RECORDED_FIELDS, "claimed_by")


def test_outcomes_record_writes_what_bulk_update_writes():
    now = timezone.now()
    token, other = 41, 42

    def written(record) -> list[dict]:
        with transaction.atomic():
            rows = [
                NotificationFactory(next_attempt_at=now, claimed_by=token),
                NotificationFactory(next_attempt_at=now, claimed_by=token),
                # handed to another run meanwhile
                NotificationFactory(next_attempt_at=now, claimed_by=other),
                # already final
                NotificationFactory(next_attempt_at=now, claimed_by=token, status="sent"),
            ]
            record(
                [
                    hotpath.Recorded(
                        pk=row.pk,
                        status=status,
                        provider_id=f"gw-{i}",
                        sent_at=now if status == "sent" else None,
                        next_attempt_at=now + timedelta(seconds=30 * i),
                        last_error="" if status == "sent" else "HTTP 503: 'down' ✗",
                        subject="Booking — बुकिंग",
                        body=f"text {i}",
                        body_html=f"<p>{i}</p>",
                    )
                    for i, (row, status) in enumerate(
                        zip(rows, ["sent", "failed", "sent", "dead"], strict=True)
                    )
                ],
                token=token,
            )
            result = list(
                Notification.objects.filter(pk__in=[r.pk for r in rows])
                .order_by("pk")
                .values(*WRITTEN)
            )
            transaction.set_rollback(True)
        return result

    by_statement = written(hotpath.outcomes_record)
    assert by_statement == written(outcomes_record_plain)
    assert [r["status"] for r in by_statement] == ["sent", "failed", "pending", "sent"]
    assert [r["claimed_by"] for r in by_statement] == [None, None, other, token]
