"""Clerks see the outbox in the admin and can re-queue what died."""

import pytest
from django.urls import reverse

from notifications.models import Notification
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:notifications_notification_changelist")


def test_changelist_filters_by_delivery_state(client, superuser):
    NotificationFactory(status="dead", last_error="HTTP 400: invalid number")
    NotificationFactory(status="sent")
    client.force_login(superuser)

    response = client.get(CHANGELIST, {"delivery": "stuck"})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert "HTTP 400: invalid number" in response.content.decode()


def test_retry_action_requeues_dead_rows(client, superuser, django_capture_on_commit_callbacks):
    dead = NotificationFactory(status="dead", attempts=8, last_error="HTTP 503")
    sent = NotificationFactory(status="sent")
    client.force_login(superuser)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            CHANGELIST,
            {"action": "retry_selected", "_selected_action": [dead.pk, sent.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert "1 notification queued again." in response.content.decode()
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (Notification.Status.PENDING, 0)
    assert len(callbacks) == 1  # the dispatcher starts after the commit


def test_rows_cannot_be_added_by_hand(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
