"""A burst of commits publishes one dispatcher task per dispatcher run, not one per booking,
and misses none: the flag is cleared by the dispatcher before it claims rows."""

import pytest
import redis
from django.core.cache import cache
from django.db import transaction

from notifications.services import notifications_dispatch_on_commit
from notifications.tasks import DISPATCH_QUEUED_KEY

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _commit_one_booking_worth() -> None:
    """What a booking's transaction does for its messages: ask for a dispatcher after commit
    (a reschedule chunk asks several times in one transaction)."""
    with transaction.atomic():
        notifications_dispatch_on_commit()
        notifications_dispatch_on_commit()


def test_publishes_once_until_the_dispatcher_starts(broker):
    cache.delete(DISPATCH_QUEUED_KEY)
    queue = redis.Redis.from_url(broker.url)
    queue.delete("notifications")

    for _ in range(50):  # fifty bookings commit while no dispatcher has started
        _commit_one_booking_worth()
    assert queue.llen("notifications") == 1

    cache.delete(DISPATCH_QUEUED_KEY)  # what the dispatcher does before it claims rows
    _commit_one_booking_worth()  # a commit after that needs (and gets) a new run
    assert queue.llen("notifications") == 2
    cache.delete(DISPATCH_QUEUED_KEY)


def test_a_rolled_back_transaction_publishes_nothing(broker):
    cache.delete(DISPATCH_QUEUED_KEY)
    queue = redis.Redis.from_url(broker.url)
    queue.delete("notifications")
    with transaction.atomic():
        notifications_dispatch_on_commit()
        transaction.set_rollback(True)
    assert queue.llen("notifications") == 0
    with transaction.atomic():
        try:
            with transaction.atomic():
                notifications_dispatch_on_commit()
                raise RuntimeError("chunk failed")
        except RuntimeError:
            pass
        notifications_dispatch_on_commit()  # the savepoint's request is gone; this one counts
    assert queue.llen("notifications") == 1
    cache.delete(DISPATCH_QUEUED_KEY)
