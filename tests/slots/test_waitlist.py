"""Waiting list and offers (DESIGN.md "Fair access", invariant 11) against real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from notifications.models import Notification
from notifications.rendering import render_notification
from notifications.sms import sms_length
from slots import errors
from slots.integrity import integrity_violations
from slots.models import Booking, Offer, Slot, WaitlistEntry
from slots.selectors import waitlist_position
from slots.services.bookings import booking_cancel, booking_create
from slots.services.waitlist import (
    offer_accept,
    offer_decline,
    offers_expire,
    offers_make,
    offers_sweep,
    waitlist_join,
    waitlist_leave,
)
from tests.factories import ApplicantFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_slot(bhopal_photo):
    """A slot three days ahead with one seat, booked."""
    slot = SlotFactory(
        offering=bhopal_photo,
        starts_at=local_dt(timezone.localdate() + timedelta(days=3), 11),
        capacity=1,
    )
    holder = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    return slot, holder


def _join(applicant, slot, **kwargs):
    day = timezone.localdate(slot.starts_at)
    return waitlist_join(
        applicant=applicant,
        office=slot.office,
        service=slot.service,
        date_from=day - timedelta(days=1),
        date_to=day + timedelta(days=1),
        **kwargs,
    )


def _seat_free(slot, holder):
    booking_cancel(booking=holder)
    return offers_make(office_id=slot.office_id, service_id=slot.service_id)


def test_joining_twice_for_one_service_is_already_waiting(full_slot, applicant):
    slot, _holder = full_slot
    _join(applicant, slot)
    with pytest.raises(errors.AlreadyWaiting):
        _join(applicant, slot)


def test_joining_with_an_active_booking_is_already_booked(full_slot):
    slot, holder = full_slot
    with pytest.raises(errors.AlreadyBooked):
        _join(holder.applicant, slot)


def test_the_database_refuses_a_second_open_entry(full_slot, applicant):
    slot, _holder = full_slot
    entry = _join(applicant, slot)
    with pytest.raises(IntegrityError):
        WaitlistEntry.objects.create(
            applicant=applicant,
            office=slot.office,
            service=slot.service,
            date_from=entry.date_from,
            date_to=entry.date_to,
        )


def test_a_freed_seat_is_offered_to_the_earliest_waiting_entry(full_slot):
    slot, holder = full_slot
    first, second = ApplicantFactory(), ApplicantFactory()
    first_entry = _join(first, slot)
    second_entry = _join(second, slot)
    assert waitlist_position(entry=first_entry) == 1
    assert waitlist_position(entry=second_entry) == 2

    (offer,) = _seat_free(slot, holder)

    assert offer.applicant_id == first.pk and offer.slot_id == slot.pk
    slot.refresh_from_db()
    assert (slot.booked, slot.held_offers) == (0, 1)
    first_entry.refresh_from_db()
    assert first_entry.state == "offered"
    assert waitlist_position(entry=second_entry) == 1
    assert integrity_violations() == {}


def test_outage_displaced_entries_are_offered_first(full_slot):
    slot, holder = full_slot
    _join(ApplicantFactory(), slot)
    displaced = ApplicantFactory()
    entry = _join(displaced, slot, displaced_by_outage=True)
    assert waitlist_position(entry=entry) == 1

    (offer,) = _seat_free(slot, holder)

    assert offer.applicant_id == displaced.pk


def test_a_held_seat_refuses_every_other_booking(full_slot, applicant):
    slot, holder = full_slot
    _join(applicant, slot)
    _seat_free(slot, holder)

    with pytest.raises(errors.SlotFull):
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    slot.refresh_from_db()
    assert (slot.booked, slot.held_offers, slot.capacity) == (0, 1, 1)


def test_the_database_refuses_booked_plus_held_over_capacity(full_slot):
    slot, _holder = full_slot
    with pytest.raises(IntegrityError):
        Slot.objects.filter(pk=slot.pk).update(held_offers=1)  # booked is 1 of 1


def test_accepting_turns_the_held_seat_into_a_booking(full_slot, applicant):
    slot, holder = full_slot
    entry = _join(applicant, slot)
    (offer,) = _seat_free(slot, holder)

    booking = offer_accept(offer=offer, applicant=applicant)

    assert booking.status == "confirmed" and booking.slot_id == slot.pk
    slot.refresh_from_db()
    assert (slot.booked, slot.held_offers) == (1, 0)
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert (offer.state, offer.booking_id, entry.state) == ("accepted", booking.pk, "booked")
    assert Notification.objects.filter(booking=booking, kind="booking_confirmed").exists()
    assert integrity_violations() == {}


def test_accepting_an_expired_offer_is_offer_expired(full_slot, applicant):
    slot, holder = full_slot
    _join(applicant, slot)
    (offer,) = _seat_free(slot, holder)

    with pytest.raises(errors.OfferExpired):
        offer_accept(offer=offer, applicant=applicant, now=offer.expires_at + timedelta(seconds=1))
    assert not Booking.objects.filter(applicant=applicant).exists()


def test_someone_elses_offer_cannot_be_accepted(full_slot, applicant, other_applicant):
    slot, holder = full_slot
    _join(applicant, slot)
    (offer,) = _seat_free(slot, holder)
    with pytest.raises(Offer.DoesNotExist):
        offer_accept(offer=offer, applicant=other_applicant)


def test_expiry_gives_the_seat_to_the_next_entry(full_slot):
    slot, holder = full_slot
    first, second = ApplicantFactory(), ApplicantFactory()
    first_entry = _join(first, slot)
    _join(second, slot)
    (offer,) = _seat_free(slot, holder)

    later = offer.expires_at + timedelta(seconds=1)
    made = offers_sweep(now=later)

    assert made == 1
    offer.refresh_from_db()
    first_entry.refresh_from_db()
    assert (offer.state, first_entry.state) == ("expired", "expired")
    (next_offer,) = Offer.objects.filter(state="open")
    assert next_offer.applicant_id == second.pk and next_offer.slot_id == slot.pk
    slot.refresh_from_db()
    assert slot.held_offers == 1
    assert integrity_violations() == {}


def test_declining_passes_the_seat_on_and_keeps_the_place(full_slot):
    slot, holder = full_slot
    first, second = ApplicantFactory(), ApplicantFactory()
    first_entry = _join(first, slot)
    _join(second, slot)
    (offer,) = _seat_free(slot, holder)

    offer_decline(offer=offer, applicant=first)
    (next_offer,) = offers_make(office_id=slot.office_id, service_id=slot.service_id)

    assert next_offer.applicant_id == second.pk
    first_entry.refresh_from_db()
    assert first_entry.state == "waiting"  # never offered that slot again
    assert integrity_violations() == {}


def test_leaving_gives_up_the_open_offer_and_its_seat(full_slot, applicant):
    slot, holder = full_slot
    entry = _join(applicant, slot)
    _seat_free(slot, holder)

    waitlist_leave(entry=entry)

    entry.refresh_from_db()
    slot.refresh_from_db()
    assert (entry.state, slot.held_offers) == ("left", 0)
    assert Offer.objects.get().state == "declined"
    assert integrity_violations() == {}


def test_cancelling_offers_the_seat_after_commit(
    full_slot, applicant, django_capture_on_commit_callbacks
):
    slot, holder = full_slot
    _join(applicant, slot)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=holder)
    offer = Offer.objects.get()
    assert (offer.applicant_id, offer.state) == (applicant.pk, "open")


def test_offer_messages_go_by_sms_and_email_with_a_one_tap_link(full_slot, applicant):
    slot, holder = full_slot
    _join(applicant, slot)
    _seat_free(slot, holder)

    rows = Notification.objects.filter(kind="waitlist_offer", applicant=applicant)
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "sms"]
    assert all(row.booking_id is None for row in rows)
    link = rows.first().context["links"]["offer"]
    assert "/my/offers/" in link


@pytest.mark.parametrize("language", ["en", "hi"])
def test_offer_sms_fits_its_budget_and_its_dlt_template(full_slot, language):
    from notifications import dlt

    slot, holder = full_slot
    applicant = ApplicantFactory(preferred_language=language)
    _join(applicant, slot)
    _seat_free(slot, holder)
    row = Notification.objects.get(kind="waitlist_offer", channel="sms")

    text = render_notification(
        kind=row.kind, channel="sms", language=language, context=row.context
    ).body
    assert sms_length(text).segments <= (2 if language == "en" else 3), text
    assert dlt.registry().find(row.kind, language, text) is not None, text
    email = render_notification(
        kind=row.kind, channel="email", language=language, context=row.context
    )
    assert row.context["links"]["offer"] in email.body


def test_offers_expire_frees_the_seat(full_slot, applicant):
    slot, holder = full_slot
    _join(applicant, slot)
    (offer,) = _seat_free(slot, holder)
    freed = offers_expire(now=offer.expires_at)
    assert freed == {(slot.office_id, slot.service_id)}
    slot.refresh_from_db()
    assert slot.held_offers == 0
    # The seat is bookable again by anyone (no one else waits).
    booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)


def test_check_integrity_names_a_wrong_held_offers_counter(full_slot):
    slot, holder = full_slot
    booking_cancel(booking=holder)
    Slot.objects.filter(pk=slot.pk).update(held_offers=1)  # no open offer holds it
    assert "booked and offered seats within capacity" in integrity_violations()


def test_a_booking_left_without_a_seat_waits_first_and_is_placed_on_accept(full_slot):
    from tests.factories import BookingFactory

    slot, holder = full_slot
    _join(ApplicantFactory(), slot)
    old_slot = SlotFactory(
        offering=slot.offering, starts_at=slot.starts_at - timedelta(days=1), capacity=0
    )
    stranded = BookingFactory(slot=old_slot, status="needs_new_slot", priority=True)
    entry = _join(stranded.applicant, slot)
    assert entry.displaced_by_outage and waitlist_position(entry=entry) == 1

    (offer,) = _seat_free(slot, holder)
    assert offer.applicant_id == stranded.applicant_id
    booking = offer_accept(offer=offer, applicant=stranded.applicant)

    assert booking.pk == stranded.pk  # the same booking, moved: no second one
    stranded.refresh_from_db()
    assert (stranded.status, stranded.slot_id, stranded.priority) == ("confirmed", slot.pk, True)
    assert stranded.events.filter(kind="rescheduled", to_slot=slot).exists()
    assert integrity_violations() == {}


def test_metrics_count_offers_by_state_and_the_waiting_in_one_query(
    full_slot, django_assert_num_queries
):
    from slots.metrics import _waitlist_metrics

    slot, holder = full_slot
    _join(ApplicantFactory(), slot)
    _join(ApplicantFactory(), slot)
    _seat_free(slot, holder)
    with django_assert_num_queries(1):
        offers, made, waiting, _ballot = _waitlist_metrics()
    by_state = {sample.labels["state"]: sample.value for sample in offers.samples}
    assert by_state == {"open": 1, "accepted": 0, "declined": 0, "expired": 0}
    assert made.samples[0].value == 1 and waiting.samples[0].value == 1


def test_added_capacity_is_offered_by_the_sweep(full_slot, applicant):
    from slots.services.capacity import slot_capacity_set

    slot, _holder = full_slot
    _join(applicant, slot)
    slot_capacity_set(slot=slot, capacity=2, priority_reserve=0)

    assert offers_sweep() == 1
    assert Offer.objects.get().applicant_id == applicant.pk


def test_capacity_cannot_be_lowered_under_a_held_seat(full_slot, applicant):
    from slots.services.capacity import CapacityInvalid, slot_capacity_set

    slot, holder = full_slot
    _join(applicant, slot)
    _seat_free(slot, holder)
    with pytest.raises(CapacityInvalid):
        slot_capacity_set(slot=slot, capacity=0, priority_reserve=0)


def test_an_outage_move_never_takes_a_held_seat(full_slot, applicant):
    from slots.services.allocation import candidates_for
    from slots.services.outage_scope import Group

    slot, holder = full_slot
    _join(applicant, slot)
    _seat_free(slot, holder)
    group = Group(slot.office_id, slot.service_id)
    other = SlotFactory(offering=slot.offering, starts_at=slot.starts_at + timedelta(hours=1))
    now = timezone.now()
    candidates = candidates_for(groups=[group], earliest=now, now=now, lock=False)[group]
    ids = {c.slot_id for c in candidates}
    assert other.pk in ids and slot.pk not in ids


def test_the_dispatcher_sends_the_offer_by_sms_and_email_and_drops_it_once_expired(
    full_slot, applicant, settings, mailoutbox
):
    import json
    from pathlib import Path

    from notifications.dispatcher import notifications_dispatch

    slot, holder = full_slot
    _join(applicant, slot)
    _seat_free(slot, holder)
    Notification.objects.exclude(kind="waitlist_offer").update(status="sent")

    notifications_dispatch()

    sms = [json.loads(p.read_text()) for p in Path(settings.SMS_FILE_DIR).glob("*.json")]
    (text,) = [m["text"] for m in sms if m["kind"] == "waitlist_offer"]
    assert "/my/offers/" in text and "Seat free for you" in text
    (email,) = [m for m in mailoutbox if "/my/offers/" in m.body]
    assert email.to == [applicant.email]

    # A second offer's messages, due only after it expired, are dropped unsent.
    rows = Notification.objects.filter(kind="waitlist_offer")
    rows.update(status="pending", next_attempt_at=timezone.now())
    Notification.objects.filter(pk__in=rows.values("pk")).update(
        context={**rows.first().context, "expires_at": timezone.now().isoformat()}
    )
    notifications_dispatch()
    assert set(rows.values_list("status", flat=True)) == {"dead"}


def test_a_resolved_outage_offers_its_window_after_its_run(
    full_slot, applicant, django_capture_on_commit_callbacks
):
    from slots.models import Outage
    from slots.services.outages import outage_create, outage_resolve

    slot, holder = full_slot
    with django_capture_on_commit_callbacks(execute=True):
        outage = outage_create(
            offices=[slot.office],
            starts_at=slot.starts_at - timedelta(hours=1),
            expected_end=slot.ends_at + timedelta(hours=1),
            reason="Server down",
        )
    holder.refresh_from_db()
    slot.refresh_from_db()
    # Moved out (or left needing a new slot): the seat is free, but inside the outage.
    assert holder.status == "needs_new_slot" and slot.booked == 0
    _join(applicant, slot)
    assert not Offer.objects.filter(slot=slot).exists()

    with django_capture_on_commit_callbacks(execute=True):
        outage_resolve(outage=outage)

    assert Outage.objects.get(pk=outage.pk).state == "done"
    assert Offer.objects.filter(slot=slot, applicant=applicant, state="open").exists()
    assert integrity_violations() == {}


def test_no_offer_while_an_outage_run_is_queued(full_slot, applicant):
    from slots.models import Outage

    slot, holder = full_slot
    _join(applicant, slot)
    outage = Outage.objects.create(
        starts_at=timezone.now() + timedelta(days=20), reason="x", state="queued"
    )
    outage.offices.add(slot.office)
    assert _seat_free(slot, holder) == []
    Outage.objects.filter(pk=outage.pk).update(state="done")
    assert len(offers_make(office_id=slot.office_id, service_id=slot.service_id)) == 1


def test_a_partial_outage_withdraws_offers_its_share_leaves_no_seat_for(
    full_slot, applicant, bhopal
):
    from django.test import TestCase

    from slots.services.outages import outage_create

    slot, holder = full_slot
    entry = _join(applicant, slot)
    [offer] = _seat_free(slot, holder)
    slot.refresh_from_db()
    assert (slot.booked, slot.held_offers) == (0, 1)

    # The service runs at a third of its seats: a one-seat slot keeps none.
    with TestCase.captureOnCommitCallbacks(execute=True):
        outage_create(
            offices=[bhopal],
            expected_end=slot.ends_at + timedelta(hours=1),
            capacity_percent=33,
            reason="One counter of three works",
        )

    offer.refresh_from_db()
    entry.refresh_from_db()
    slot.refresh_from_db()
    assert offer.state == Offer.State.EXPIRED
    assert entry.state == WaitlistEntry.State.WAITING  # keeps its place for another seat
    assert (slot.booked, slot.held_offers, slot.capacity) == (0, 0, 0)
    with pytest.raises(errors.OfferExpired):
        offer_accept(offer=offer, applicant=applicant)
    assert integrity_violations() == {}
