"""Marking a service down through the admin: preview, confirm, live progress, extend, resolve,
undo — each recorded in the admin log."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from slots.models import Booking, Outage, OutageEvent
from tests.admin.conftest import DAY, fill_day, local_dt, record_outage

pytestmark = pytest.mark.django_db

ADD = reverse("admin:slots_outage_add")


def _url(name, outage):
    return reverse(f"admin:slots_outage_{name}", args=[outage.pk])


def _form(offices, day, *, services=(), hours=24, reason="Photo-capture server down"):
    start = local_dt(day, 0)
    return {
        "offices": [o.pk for o in offices],
        "services": [s.pk for s in services],
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "expected_end": (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M"),
        "reason": reason,
        "reason_hi": "फोटो सर्वर बंद",
    }


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_add_form_has_good_defaults(bhopal_client, bhopal, indore):
    response = bhopal_client.get(ADD)

    assert response.status_code == 200
    form = response.context["form"]
    now = timezone.localtime()
    assert abs(form.initial["starts_at"] - now) < timedelta(minutes=2)
    assert form.initial["expected_end"] - form.initial["starts_at"] == timedelta(hours=4)
    assert list(form.fields["offices"].queryset) == [bhopal]  # Indore is not offered
    assert form.initial["offices"] == [bhopal]  # the clerk's only office is ticked
    html = response.content.decode()
    assert 'name="_preview"' in html and "MP-09" not in html


def test_preview_shows_what_will_move_and_records_nothing(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day
):
    fill_day(photo_bhopal, outage_day, per_slot=2)

    response = bhopal_client.post(
        ADD, {**_form([bhopal], outage_day, services=[photo]), "_preview": "1"}
    )

    assert response.status_code == 200
    preview = response.context["preview"]
    (row,) = preview.rows
    assert (row.office, row.service, row.affected, row.would_move, row.needs_new_slot) == (
        "MP-04",
        "photo-biometrics",
        8,
        8,
        0,
    )
    assert timezone.localdate(row.first_new) == outage_day + DAY
    html = response.content.decode()
    assert "Confirm and move bookings" in html and 'id="outage-preview"' in html
    assert not Outage.objects.exists()


def test_confirm_moves_bookings_and_progress_reaches_done(
    bhopal_client,
    clerk_bhopal,
    photo_bhopal,
    bhopal,
    photo,
    outage_day,
    django_capture_on_commit_callbacks,
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=2)

    with django_capture_on_commit_callbacks(execute=True):
        response = bhopal_client.post(
            ADD, {**_form([bhopal], outage_day, services=[photo]), "_confirm": "1"}
        )

    outage = Outage.objects.get()
    assert response.status_code == 302 and response.url == _url("change", outage)
    assert outage.created_by == clerk_bhopal
    assert list(outage.offices.all()) == [bhopal] and list(outage.services.all()) == [photo]
    progress = bhopal_client.get(_url("progress", outage)).json()
    assert progress["state"] == "done" and progress["finished"]
    assert (progress["affected"], progress["moved"], progress["needs_new_slot"]) == (8, 8, 0)
    assert progress["notified"] == 8 and progress["percent"] == 100
    assert all(
        b.slot.starts_at >= outage.expected_end
        for b in Booking.objects.filter(pk__in=[b.pk for b in booked])
    )
    entry = OutageEvent.objects.get(outage=outage)
    assert (entry.user, entry.kind) == (clerk_bhopal, "declared")
    history = bhopal_client.get(_url("history", outage)).content.decode()
    assert "Marked down: MP-04, Photo and biometrics" in history and "clerk-bhopal" in history

    page = bhopal_client.get(_url("change", outage))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="outage-progress-bar"' in html and 'max="8" value="8"' in html
    assert "Marked down: MP-04" in html  # the outage's own actions
    assert 'name="_save"' not in html  # nothing is saved through the model form


def test_progress_while_running_and_the_page_refreshes_without_javascript(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day
):
    fill_day(photo_bhopal, outage_day, per_slot=1)
    # Recorded without running the task (no on-commit callbacks in this test): still queued.
    bhopal_client.post(ADD, {**_form([bhopal], outage_day, services=[photo]), "_confirm": "1"})
    outage = Outage.objects.get()
    Outage.objects.filter(pk=outage.pk).update(state="running", affected=4, moved=1)

    progress = bhopal_client.get(_url("progress", outage)).json()
    page = bhopal_client.get(_url("change", outage)).content.decode()

    assert (progress["state"], progress["percent"], progress["finished"]) == ("running", 25, False)
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert 'data-finished="false"' in page


def test_invalid_window_is_refused_with_a_message(bhopal_client, bhopal, outage_day):
    data = _form([bhopal], outage_day)
    data["expected_end"] = data["starts_at"]

    response = bhopal_client.post(ADD, {**data, "_confirm": "1"})

    assert response.status_code == 200
    assert "The expected end must be after the start." in response.content.decode()
    assert not Outage.objects.exists()


def test_extend_through_the_admin_moves_the_newly_covered_bookings(
    bhopal_client,
    clerk_bhopal,
    photo_bhopal,
    bhopal,
    photo,
    outage_day,
    django_capture_on_commit_callbacks,
):
    fill_day(photo_bhopal, outage_day, per_slot=1)
    next_day = fill_day(photo_bhopal, outage_day + DAY, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    end = outage.expected_end

    with django_capture_on_commit_callbacks(execute=True):
        response = bhopal_client.post(_url("extend", outage), {"hours": "24"}, follow=True)

    outage.refresh_from_db()
    assert outage.expected_end == end + timedelta(hours=24)
    assert outage.state == "done"
    assert all(
        b.slot.starts_at >= outage.expected_end
        for b in Booking.objects.filter(pk__in=[b.pk for b in next_day])
    )
    assert any("Outage extended" in m for m in _messages(response))
    entry = OutageEvent.objects.get(outage=outage, kind="extended")
    assert entry.user == clerk_bhopal
    assert (entry.expected_end_before, entry.expected_end_after) == (end, outage.expected_end)
    assert "Extended by 24 h" in bhopal_client.get(_url("history", outage)).content.decode()


def test_resolve_through_the_admin(
    bhopal_client, clerk_bhopal, photo_bhopal, bhopal, photo, outage_day
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])

    response = bhopal_client.post(_url("resolve", outage), {"confirmed": "yes"}, follow=True)

    outage.refresh_from_db()
    assert outage.resolved_at is not None
    assert any("Outage resolved" in m for m in _messages(response))
    assert Notification.objects.filter(
        booking__in=booked, kind="service_restored", channel="sms"
    ).count() == len(booked)
    assert OutageEvent.objects.get(outage=outage, kind="resolved").user == clerk_bhopal
    assert "Resolved at" in bhopal_client.get(_url("change", outage)).content.decode()
    # Resolved: no more buttons, and resolving again changes nothing.
    again = bhopal_client.post(_url("resolve", outage), {"confirmed": "yes"}, follow=True)
    assert any("already resolved" in m for m in _messages(again))
    assert 'id="outage-resolve"' not in again.content.decode()


def test_undo_within_the_window_through_the_admin(
    bhopal_client, clerk_bhopal, photo_bhopal, bhopal, photo, outage_day
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=2)
    original = {b.pk: b.slot_id for b in booked}
    outage = record_outage([bhopal], outage_day, services=[photo])
    assert 'id="outage-undo"' in bhopal_client.get(_url("change", outage)).content.decode()
    before = Notification.objects.count()

    asked = bhopal_client.post(_url("undo", outage))  # the button, without JavaScript
    assert asked.status_code == 200 and 'id="outage-undo-confirm"' in asked.content.decode()
    assert Notification.objects.count() == before  # asking changed nothing

    response = bhopal_client.post(_url("undo", outage), {"confirmed": "yes"}, follow=True)

    assert any("Undone as a false alarm: 8 moved back" in m for m in _messages(response))
    assert dict(Booking.objects.filter(pk__in=original).values_list("pk", "slot_id")) == original
    new_rows = Counter(
        Notification.objects.order_by("pk")[before:].values_list("booking_id", "channel")
    )
    assert new_rows == Counter(
        {(pk, channel): 1 for pk in original for channel in ("sms", "email")}
    )
    outage.refresh_from_db()
    assert outage.resolved_at is not None
    undone = OutageEvent.objects.get(outage=outage, kind="undone")
    assert undone.user == clerk_bhopal and undone.details == {"moved_back": 8, "stayed": 0}
    history = bhopal_client.get(_url("history", outage)).content.decode()
    assert "Undone as a false alarm: 8 moved back" in history


def test_undo_after_the_window_is_refused_with_a_clear_message(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day, settings
):
    settings.OUTAGE_UNDO_WINDOW_MINUTES = 30
    fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    Outage.objects.filter(pk=outage.pk).update(created_at=timezone.now() - timedelta(minutes=31))

    page = bhopal_client.get(_url("change", outage)).content.decode()
    response = bhopal_client.post(_url("undo", outage), {"confirmed": "yes"}, follow=True)

    assert 'id="outage-undo"' not in page
    assert any("only within 30 minutes" in m for m in _messages(response))
    outage.refresh_from_db()
    assert outage.resolved_at is None


def test_outage_pages_need_post_for_actions(bhopal_client, bhopal, outage_day):
    outage = record_outage([bhopal], outage_day)
    assert bhopal_client.get(_url("extend", outage)).status_code == 405
    # Resolve and undo: a GET is their confirmation page and changes nothing.
    for name in ("resolve", "undo"):
        assert bhopal_client.get(_url(name, outage)).status_code == 200
    outage.refresh_from_db()
    assert outage.resolved_at is None


@pytest.mark.parametrize("language", ["en", "hi"])
def test_resolve_asks_for_confirmation_first(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day, language
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    change = bhopal_client.get(_url("change", outage)).content.decode()
    # The button on the outage page only opens the confirmation (a GET form, no JavaScript).
    form = change.split('id="outage-resolve"')[0].rsplit("<form", 1)[1]
    assert 'method="get"' in form and _url("resolve", outage) in form

    page = bhopal_client.get(_url("resolve", outage), HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    assert page.status_code == 200
    says = {
        "en": ("Yes, resolve now", "No, go back", f"{len(booked)} applicants the outage moved"),
        "hi": ("हाँ, अभी समाप्त करें", "नहीं, वापस जाएँ", f"सेवा बाधा ने जिन {len(booked)} आवेदकों"),
    }[language]
    for text in says:
        assert text in html, text
    assert 'name="confirmed" value="yes"' in html and 'method="post"' in html
    # Neither the page nor the old one-click POST (without "confirmed") resolves.
    old_click = bhopal_client.post(_url("resolve", outage))
    assert old_click.status_code == 200 and "Yes, resolve now" in old_click.content.decode()
    outage.refresh_from_db()
    assert outage.resolved_at is None
    assert not Notification.objects.filter(kind="service_restored").exists()

    done = bhopal_client.post(_url("resolve", outage), {"confirmed": "yes"})
    assert done.status_code == 302
    outage.refresh_from_db()
    assert outage.resolved_at is not None


@pytest.mark.parametrize(
    ("language", "asks"),
    [("en", "Undo this outage as a false alarm?"), ("hi", "गलत सूचना मानकर वापस लें")],
)
def test_undo_without_javascript_asks_on_a_page_first(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day, language, asks
):
    fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    page = bhopal_client.get(_url("undo", outage), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert asks in page and 'name="confirmed" value="yes"' in page
    outage.refresh_from_db()
    assert outage.resolved_at is None


def test_all_services_when_none_ticked(
    bhopal_client, photo_bhopal, bhopal, outage_day, django_capture_on_commit_callbacks
):
    fill_day(photo_bhopal, outage_day, per_slot=1)
    with django_capture_on_commit_callbacks(execute=True):
        bhopal_client.post(ADD, {**_form([bhopal], outage_day), "_confirm": "1"})
    outage = Outage.objects.get()
    assert not outage.services.exists()
    assert (outage.state, outage.moved) == ("done", 4)
    listing = bhopal_client.get(reverse("admin:slots_outage_changelist")).content.decode()
    assert "all services" in listing and "4 of 4" in listing


def test_an_outage_declared_through_the_staff_api_is_attributed_in_the_admin_history(
    root_client, superuser, bhopal, outage_day
):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(superuser)
    created = api.post(
        "/api/v1/outages/",
        {
            "offices": ["MP-04"],
            "expected_end": local_dt(outage_day + timedelta(days=1), 0).isoformat(),
            "starts_at": local_dt(outage_day, 0).isoformat(),
            "reason": "Photo-capture server down",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    outage = Outage.objects.get(pk=created.json()["id"])
    history = root_client.get(_url("history", outage)).content.decode()
    assert "Marked down: MP-04" in history and superuser.username in history


def test_mark_down_until_further_notice_previews_the_held_then_holds_them_in_both_languages(
    bhopal_client, clerk_bhopal, photo_bhopal, bhopal, photo, django_capture_on_commit_callbacks
):
    tomorrow = timezone.localdate() + DAY  # always inside the 48-hour hold horizon
    booked = fill_day(photo_bhopal, tomorrow, per_slot=1)
    data = {
        **_form([bhopal], timezone.localdate(), services=[photo]),
        "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "expected_end": "",
        "capacity_percent": "0",
    }

    preview = bhopal_client.post(ADD, {**data, "_preview": "1"})
    assert preview.status_code == 200, preview.content
    assert preview.context["preview"].on_hold == len(booked)
    html = preview.content.decode()
    assert 'id="preview-on-hold"' in html and "until further notice" in html

    with django_capture_on_commit_callbacks(execute=True):
        bhopal_client.post(ADD, {**data, "_confirm": "1"})
    outage = Outage.objects.get()
    assert outage.expected_end is None and outage.created_by == clerk_bhopal
    assert {b.status for b in Booking.objects.filter(pk__in=[b.pk for b in booked])} == {"on_hold"}
    history = bhopal_client.get(_url("history", outage)).content.decode()
    assert "until further notice" in history
    progress = bhopal_client.get(_url("progress", outage)).json()
    assert (progress["on_hold"], progress["percent"]) == (len(booked), 100)

    # The end becomes known: "Extend" gives it, N hours from now; the held are placed once.
    with django_capture_on_commit_callbacks(execute=True):
        bhopal_client.post(_url("extend", outage), {"hours": "24"}, follow=True)
    outage.refresh_from_db()
    assert outage.expected_end is not None and outage.on_hold == 0
    assert {b.status for b in Booking.objects.filter(pk__in=[b.pk for b in booked])} == {
        "confirmed"
    }
    bhopal_client.cookies.load({"django_language": "hi"})
    hindi = bhopal_client.get(_url("history", outage), HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "अगली सूचना तक" in hindi


def test_mark_down_at_a_share_of_the_seats_through_the_admin(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day, django_capture_on_commit_callbacks
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=3)  # 3 of 4 seats (1 held back)
    data = {**_form([bhopal], outage_day, services=[photo]), "capacity_percent": "25"}
    preview = bhopal_client.post(ADD, {**data, "_preview": "1"}).context["preview"]
    # Only the overflow of each slot's one remaining seat moves.
    assert (preview.affected, preview.would_move) == (2 * len(booked) // 3,) * 2
    with django_capture_on_commit_callbacks(execute=True):
        bhopal_client.post(ADD, {**data, "_confirm": "1"})
    outage = Outage.objects.get()
    assert outage.capacity_percent == 25
    assert outage.moved == 2 * len(booked) // 3  # one seat of four stays in each slot
    refused = bhopal_client.post(ADD, {**data, "capacity_percent": "100", "_preview": "1"})
    assert refused.status_code == 200 and "capacity_percent" in refused.context["form"].errors


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("en", "Give the reason in Hindi too, or pick a standard reason."),
        ("hi", "कारण हिंदी में भी लिखें, या कोई मानक कारण चुनें।"),
    ],
)
def test_mark_down_requires_a_hindi_reason_or_a_standard_one(
    bhopal_client, bhopal, outage_day, language, error
):
    data = {**_form([bhopal], outage_day), "reason_hi": ""}
    for button in ("_preview", "_confirm"):
        response = bhopal_client.post(ADD, {**data, button: "1"}, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200 and response.context["preview"] is None
        assert error in response.content.decode()
    assert not Outage.objects.exists()


def test_mark_down_with_a_standard_reason_records_it_in_both_languages(
    bhopal_client, photo_bhopal, bhopal, photo, outage_day, django_capture_on_commit_callbacks
):
    page = bhopal_client.get(ADD).content.decode()
    assert "Photo-capture machine not working / फोटो कैप्चर मशीन काम नहीं कर रही" in page
    data = {
        **_form([bhopal], outage_day, services=[photo]),
        "reason": "",
        "reason_hi": "",
        "standard_reason": "photo-capture",
    }
    preview = bhopal_client.post(ADD, {**data, "_preview": "1"})
    assert preview.context["preview"] is not None
    assert "फोटो कैप्चर मशीन काम नहीं कर रही" in preview.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        bhopal_client.post(ADD, {**data, "_confirm": "1"})
    outage = Outage.objects.get()
    assert (outage.reason, outage.reason_hi) == (
        "Photo-capture machine not working",
        "फोटो कैप्चर मशीन काम नहीं कर रही",
    )


def test_a_typed_reason_wins_over_the_standard_one_for_its_language(
    bhopal_client, bhopal, outage_day, django_capture_on_commit_callbacks
):
    data = {
        **_form([bhopal], outage_day, reason="Sarathi down since 9"),
        "reason_hi": "",
        "standard_reason": "server-down",
    }
    with django_capture_on_commit_callbacks(execute=True):
        bhopal_client.post(ADD, {**data, "_confirm": "1"})
    outage = Outage.objects.get()
    assert (outage.reason, outage.reason_hi) == ("Sarathi down since 9", "लाइसेंस सर्वर (सारथी) बंद")
