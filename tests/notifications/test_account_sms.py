"""Account messages (a one-time code, the application number, "your number is being guessed")
go through the outbox like booking messages: written with the caller's transaction, sent by
the dispatcher, ahead of booking messages, never held by the booking messages' hourly cap."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications import dlt
from notifications.dispatcher import notifications_dispatch
from notifications.models import ACCOUNT_KINDS, Notification
from notifications.rendering import render_notification
from notifications.sealing import seal, unseal
from notifications.services import account_sms_queue
from notifications.sms import is_gsm7, sms_length
from tests.factories import ApplicantFactory, NotificationFactory

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def sms_files(settings) -> list[dict]:
    directory = Path(settings.SMS_FILE_DIR)
    if not directory.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


_keys = iter(range(1, 10**6))


def queue_code(applicant, code="482913", *, key=None, expires_in=timedelta(minutes=10)):
    return account_sms_queue(
        applicant=applicant,
        kind=Kind.MOBILE_CODE,
        context={
            "code": code,
            "minutes": 10,
            "expires_at": (timezone.now() + expires_in).isoformat(),
        },
        event_key=key or f"mobile-code:test-{next(_keys)}",  # never the code itself
    )


def test_a_code_is_sent_by_the_dispatcher_after_the_commit(
    settings, django_capture_on_commit_callbacks
):
    applicant = ApplicantFactory(mobile="+919812345612")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        row = queue_code(applicant)
        assert sms_files(settings) == []  # nothing leaves inside the web request's transaction

    assert len(callbacks) == 1
    row.refresh_from_db()
    assert (row.status, row.booking_id, row.applicant_id) == ("sent", None, applicant.pk)
    (message,) = sms_files(settings)
    assert message["to"] == "+919812345612"
    assert message["kind"] == "mobile_code"
    assert message["text"].startswith("482913 is your RTO booking code")


def test_the_code_is_never_stored_in_the_clear(settings):
    applicant = ApplicantFactory()
    row = queue_code(applicant, "739104")
    stored = Notification.objects.get(pk=row.pk)
    assert "739104" not in json.dumps(stored.context)
    assert unseal(stored.context["code_sealed"]) == "739104"

    notifications_dispatch()

    stored.refresh_from_db()
    assert stored.status == "sent"
    assert "739104" not in stored.body and "******" in stored.body
    assert "739104" in sms_files(settings)[0]["text"]


def test_a_code_to_retry_keeps_no_text_and_is_sent_whole_later(http_sms):
    http_sms.respond(503)
    row = queue_code(ApplicantFactory(), "551177")

    notifications_dispatch()
    row.refresh_from_db()
    assert (row.status, row.body) == ("failed", "")

    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    notifications_dispatch()
    row.refresh_from_db()
    assert row.status == "sent"
    sent = http_sms.accepted()[-1]["body"]
    assert sent["text"].startswith("551177 ")
    assert sent["reference"] == f"mobile_code:{row.pk}"  # no booking reference to give


def test_nothing_is_queued_when_the_transaction_rolls_back():
    applicant = ApplicantFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_code(applicant)
        raise RuntimeError("registration failed")
    assert not Notification.objects.exists()


def test_the_same_event_is_queued_once():
    applicant = ApplicantFactory()
    assert queue_code(applicant, key="mobile-code:1") is not None
    assert queue_code(applicant, key="mobile-code:1") is None
    assert Notification.objects.count() == 1


def test_only_account_kinds_are_queued_without_a_booking():
    with pytest.raises(ValueError):
        account_sms_queue(
            applicant=ApplicantFactory(), kind=Kind.CANCELLED, context={}, event_key="x"
        )


def test_account_messages_go_before_a_queue_of_booking_messages():
    applicant = ApplicantFactory()
    earlier = timezone.now() - timedelta(minutes=5)
    booking_rows = [NotificationFactory(next_attempt_at=earlier) for _ in range(4)]
    code = queue_code(applicant)

    notifications_dispatch(batch_size=1)

    code.refresh_from_db()
    sent = Notification.objects.filter(pk__in=[r.pk for r in booking_rows], status="sent")
    assert code.status == "sent" and sent.count() == 4
    assert all(code.sent_at <= row.sent_at for row in sent)


def test_codes_are_not_held_by_the_hourly_cap_nor_hold_booking_messages(settings):
    settings.SMS_MAX_PER_HOUR = 1
    applicant = ApplicantFactory()
    NotificationFactory(
        booking__applicant=applicant,
        status="sent",
        sent_at=timezone.now() - timedelta(minutes=10),
    )
    queue_code(applicant, "100001", key="c1")
    notifications_dispatch()
    assert Notification.objects.get(event_key="c1").status == "sent"

    # The cap is reached by the booking message alone: a second booking message waits...
    second = NotificationFactory(booking__applicant=applicant)
    notifications_dispatch()
    second.refresh_from_db()
    assert second.status == "pending" and "SMS_MAX_PER_HOUR" in second.last_error

    # ...while for another mobile, codes sent do not count against its booking messages.
    other = ApplicantFactory()
    queue_code(other, "200002", key="c2")
    notifications_dispatch()
    booking_message = NotificationFactory(booking__applicant=other)
    notifications_dispatch()
    booking_message.refresh_from_db()
    assert booking_message.status == "sent"


def test_a_newer_code_supersedes_an_unsent_one(settings):
    applicant = ApplicantFactory()
    old = queue_code(applicant, "111111")
    new = queue_code(applicant, "222222")
    other = queue_code(ApplicantFactory(), "333333")

    notifications_dispatch()

    old.refresh_from_db()
    new.refresh_from_db()
    other.refresh_from_db()
    assert (old.status, new.status, other.status) == ("superseded", "sent", "sent")
    texts = [m["text"] for m in sms_files(settings)]
    assert not any("111111" in t for t in texts)


def test_an_expired_code_is_not_sent(settings):
    row = queue_code(ApplicantFactory(), expires_in=timedelta(seconds=-1))

    result = notifications_dispatch()

    row.refresh_from_db()
    assert (row.status, result.dead) == ("dead", 1)
    assert sms_files(settings) == []


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", sorted(ACCOUNT_KINDS))
def test_account_sms_are_one_segment_and_match_their_dlt_template(kind, language):
    context = {
        "code_sealed": seal("482913"),
        "minutes": 10,
        "application_number": "2612345678",
    }
    text = render_notification(kind=kind, channel="sms", language=language, context=context).body

    length = sms_length(text)
    assert length.segments == 1, (kind, language, text, length)
    assert is_gsm7(text) == (language == "en")
    assert ("482913" if kind == Kind.MOBILE_CODE else "2612345678") in text
    assert dlt.registry().find(kind, language, text) is not None, text


def test_the_admin_shows_account_messages_to_superusers_without_the_code(
    client, superuser, clerk_bhopal
):
    row = queue_code(ApplicantFactory(), "904512")
    notifications_dispatch()
    changelist = reverse("admin:notifications_notification_changelist")
    change = reverse("admin:notifications_notification_change", args=[row.pk])

    client.force_login(superuser)
    listing = client.get(changelist)
    page = client.get(change)
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    assert page.status_code == 200
    assert "904512" not in page.content.decode()
    assert unseal(row.context["code_sealed"]) == "904512"

    clerk_bhopal.groups.add(Group.objects.get(name="Clerk"))
    client.force_login(clerk_bhopal)
    assert client.get(changelist).context["cl"].result_count == 0  # no booking of theirs
    assert client.get(change).status_code in (302, 404)


def test_an_undelivered_code_is_not_sent_again_by_email():
    from slots.messages import sms_delivery_report

    row = queue_code(ApplicantFactory(email="kavita@example.in"))
    notifications_dispatch()
    row.refresh_from_db()

    reported = sms_delivery_report(provider_id=row.provider_id, delivery="undelivered")

    assert reported.delivery == "undelivered"
    assert not Notification.objects.filter(channel="email").exists()


def test_a_sealed_code_is_not_in_the_clear_and_opens_only_with_its_key(settings):
    sealed = seal("739104")
    assert "739104" not in sealed
    assert unseal(sealed) == "739104"
    assert seal("739104") != sealed  # a fresh nonce each time
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    assert unseal(tampered) == ""
    settings.SECRET_KEY = "another-deployment-key-" + "x" * 40
    assert unseal(sealed) == ""
