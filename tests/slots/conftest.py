"""The events-to-announce fixtures of the notification tests, shared here: test_hotpath.py holds
the outbox statement against the Python rows built from them."""

from tests.notifications.conftest import (  # noqa: F401
    jabalpur,
    jabalpur_photo,
    make_event,
    outage,
    photo_service,
)
