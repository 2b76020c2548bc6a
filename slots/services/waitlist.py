"""Waiting list and offers (DESIGN.md, "Fair access"; docs/API.md, "Waiting list and offers").

An applicant who finds no free seat joins the office × service's list for a range of dates.
When a seat inside an entry's range frees up, the earliest waiting entry — applicants displaced
by an outage first, then by `created_at` — gets an **offer**: the seat is held for it
(`Slot.held_offers`, counted as taken by every booking path: invariant 11) until it expires
after WAITLIST_OFFER_MINUTES. Accepting turns the held seat into a booking in one conditional
UPDATE; declining or expiry gives the seat to the next entry.

Every state change is a compare-and-swap (filter on the old state, require one row changed) or
runs under the offer's row lock; the CHECK constraints on `Slot` and the partial unique indexes
on the entries and offers are the backstop. Offers are made by `waitlist_offers_task` after the
commit that freed a seat (`offers_make_on_commit`) and by the beat sweep (`offers_sweep`), which
also finds seats freed by paths that do not ask (added capacity, a resolved outage).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Model, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Notification
from rto_booking.queueing import enqueue_named_on_commit
from slots.errors import (
    AlreadyBooked,
    AlreadyWaiting,
    MobileNotVerified,
    OfferExpired,
    OutsideLicenceWindow,
    SlotUnavailable,
    WaitlistInvalid,
    busy_on_lock_timeout,
)
from slots.messages import messages_write_for_events
from slots.models import (
    Booking,
    BookingEvent,
    Offer,
    Office,
    Outage,
    Service,
    Slot,
    WaitlistEntry,
)
from slots.rules import (
    ballot_closes_at,
    booking_cutoff,
    booking_horizon_end,
    check_learner_licence_known,
    check_licence_window,
    check_slot_bookable,
    mobile_verification_required,
    reserve_held,
)
from slots.services.ballot import ballot_undrawn

# Entries looked at per office × service in one run: each gets at most one offer per run.
OFFERS_PER_RUN = 200


def _actor(acting_user) -> str:
    return BookingEvent.Actor.STAFF if acting_user is not None else BookingEvent.Actor.APPLICANT


def offers_make_on_commit(*, office_id: int, service_id: int) -> None:
    """Offer the seats just freed once the current transaction commits (a Celery task)."""
    # By name: slots.tasks imports the booking services, which call this after a cancel.
    enqueue_named_on_commit("slots.tasks.waitlist_offers", office_id, service_id)


def waitlist_join(
    *,
    applicant: Model,
    office: Office,
    service: Service,
    date_from: date,
    date_to: date,
    displaced_by_outage: bool = False,
    offer_now: bool = True,
    acting_user=None,
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put `applicant` on the list of `office` × `service` for [date_from, date_to].
    `offer_now`: look for a free seat for it at once (a ballot's draw, which has just filled
    the day, does not).

    Raises AlreadyBooked (an active booking for the service), AlreadyWaiting (an open entry
    for it: the partial unique index has the last word) or WaitlistInvalid (bad range)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    last = timezone.localdate(booking_horizon_end(now)) - timedelta(days=1)
    if date_to < date_from:
        message = _("The last day must not be before the first day.")
        raise WaitlistInvalid(message, fields={"to": [message]})
    if date_to < today:
        message = _("The days must not be in the past.")
        raise WaitlistInvalid(message, fields={"to": [message]})
    if date_from > last:
        message = _("Bookings open %(days)s days ahead.") % {"days": settings.BOOKING_HORIZON_DAYS}
        raise WaitlistInvalid(message, fields={"from": [message]})
    if not office.offerings.filter(service=service, is_active=True).exists():
        message = _("This office does not offer this service.")
        raise WaitlistInvalid(message, fields={"service": [message]})
    statuses = set(
        Booking.objects.filter(
            applicant=applicant, service=service, status__in=Booking.ACTIVE
        ).values_list("status", flat=True)
    )
    if Booking.Status.CONFIRMED in statuses:
        raise AlreadyBooked()
    # A booking an outage left without a seat (needs a new slot, or on hold) may wait for one:
    # its applicant was displaced by the outage and is served first.
    displaced_by_outage = displaced_by_outage or bool(statuses)
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                applicant=applicant,
                office=office,
                service=service,
                date_from=max(date_from, today),
                date_to=min(date_to, last),
                displaced_by_outage=displaced_by_outage,
                created_at=now,
            )
    except IntegrityError as error:
        if "waitlist_one_open_per_applicant_service" in str(error):
            raise AlreadyWaiting() from None
        raise
    if offer_now:
        # A seat may be free already (someone cancelled a moment ago): look at once.
        offers_make_on_commit(office_id=office.pk, service_id=service.pk)
    return entry


def waitlist_join_day(
    *, applicants: list, office: Office, service: Service, day: date, now: datetime
) -> dict[int, WaitlistEntry]:
    """Put `applicants` on the list of `office` × `service` for `day`, in the order given (one
    insert: `created_at` ties are served by id, which follows it) — a ballot's draw, which has
    just filled the day, so no offer is looked for. Returns the new entries by applicant id;
    an applicant already waiting for the service (or refused by `waitlist_join`) has none."""
    waiting = set(
        WaitlistEntry.objects.filter(
            applicant_id__in=[applicant.pk for applicant in applicants],
            service=service,
            state__in=WaitlistEntry.OPEN,
        ).values_list("applicant_id", flat=True)
    )
    joining = [applicant for applicant in applicants if applicant.pk not in waiting]
    rows = [
        WaitlistEntry(
            applicant=applicant,
            office=office,
            service=service,
            date_from=day,
            date_to=day,
            created_at=now,
        )
        for applicant in joining
    ]
    try:
        with transaction.atomic():
            created = WaitlistEntry.objects.bulk_create(rows)
    except IntegrityError:
        # Someone joined the list for the service a moment ago: one at a time, each checked.
        created = [
            _join_or_none(applicant=a, office=office, service=service, day=day, now=now)
            for a in joining
        ]
    return {
        applicant.pk: entry
        for applicant, entry in zip(joining, created, strict=True)
        if entry is not None
    }


def _join_or_none(*, applicant, office, service, day: date, now: datetime):
    try:
        with transaction.atomic():
            return waitlist_join(
                applicant=applicant,
                office=office,
                service=service,
                date_from=day,
                date_to=day,
                offer_now=False,
                now=now,
            )
    except (AlreadyWaiting, AlreadyBooked, WaitlistInvalid):
        return None


def _release_offer_seat(*, slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id, held_offers__gt=0).update(held_offers=F("held_offers") - 1)


def waitlist_leave(
    *, entry: WaitlistEntry, acting_user=None, now: datetime | None = None
) -> WaitlistEntry:
    """Take an open entry off the list; an open offer of it is given up (its seat goes on)."""
    now = now or timezone.now()
    with transaction.atomic():
        current = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if current.state not in WaitlistEntry.OPEN:
            return current  # already off the list: leaving twice is leaving
        for offer in Offer.objects.select_for_update().filter(entry=current, state="open"):
            Offer.objects.filter(pk=offer.pk, state=Offer.State.OPEN).update(
                state=Offer.State.DECLINED, decided_at=now
            )
            _release_offer_seat(slot_id=offer.slot_id)
        current.state = WaitlistEntry.State.LEFT
        current.save(update_fields=["state", "updated_at"])
        offers_make_on_commit(office_id=current.office_id, service_id=current.service_id)
    return current


def _candidate_slots(*, office_id: int, service_id: int, first: date, last: date, now: datetime):
    """Slots of the office × service on [first, last] with a seat free for a new booking,
    earliest first (outages and closures are checked per chosen slot)."""
    tz = timezone.get_current_timezone()
    start = max(
        booking_cutoff(now), datetime.combine(first, datetime.min.time()).replace(tzinfo=tz)
    )
    end = min(
        booking_horizon_end(now),
        datetime.combine(last + timedelta(days=1), datetime.min.time()).replace(tzinfo=tz),
    )
    return list(
        Slot.objects.select_related("office", "service", "offering")
        .filter(
            office_id=office_id,
            service_id=service_id,
            starts_at__gte=start,
            starts_at__lt=end,
            booked__lt=F("capacity") - F("held_offers"),
            offering__is_active=True,
        )
        .order_by("starts_at", "pk")
    )


def _free_for(slot: Slot, *, entry: WaitlistEntry, now: datetime) -> int:
    free = slot.capacity - slot.booked - slot.held_offers
    if not entry.displaced_by_outage and reserve_held(starts_at=slot.starts_at, now=now):
        free -= slot.priority_reserve
    return free


def _hold_seat(slot: Slot, *, entry: WaitlistEntry, now: datetime) -> bool:
    """Hold one seat of `slot` for an offer: one conditional UPDATE, as a booking takes one."""
    seats = Slot.objects.filter(pk=slot.pk)
    if not entry.displaced_by_outage and reserve_held(starts_at=slot.starts_at, now=now):
        seats = seats.filter(booked__lt=F("capacity") - F("priority_reserve") - F("held_offers"))
    else:
        seats = seats.filter(booked__lt=F("capacity") - F("held_offers"))
    if seats.update(held_offers=F("held_offers") + 1) != 1:
        return False
    slot.held_offers += 1
    return True


def offers_make(*, office_id: int, service_id: int, now: datetime | None = None) -> list[Offer]:
    """Offer each free seat of the office × service to the earliest waiting entry whose range
    holds it (outage-displaced first, then `created_at`). Idempotent: an entry has at most one
    open offer (partial unique index) and a seat is held by one conditional UPDATE, so two runs
    at once never offer one seat twice. Returns the offers made."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    made: list[Offer] = []
    if _rescheduling(office_id=office_id, service_id=service_id):
        # Bookings an outage moves or places come first: their run takes the free seats, and
        # the sweep offers what it leaves once it is done.
        return made
    with busy_on_lock_timeout(), transaction.atomic():
        # The entries' row locks order concurrent runs of this office × service: the second
        # waits and then sees the first one's offers.
        entries = list(
            WaitlistEntry.objects.select_for_update(of=("self",))
            .select_related("applicant")
            .filter(
                office_id=office_id,
                service_id=service_id,
                state=WaitlistEntry.State.WAITING,
                date_to__gte=today,
            )
            .order_by("-displaced_by_outage", "created_at", "pk")[:OFFERS_PER_RUN]
        )
        if not entries:
            return made
        slots = _candidate_slots(
            office_id=office_id,
            service_id=service_id,
            first=min(e.date_from for e in entries),
            last=max(e.date_to for e in entries),
            now=now,
        )
        if not slots:
            return made
        unusable: set[int] = set()
        offered_before = {
            (entry_id, slot_id)
            for entry_id, slot_id in Offer.objects.filter(entry__in=entries).values_list(
                "entry_id", "slot_id"
            )
        }
        active = set(
            Booking.objects.filter(
                applicant_id__in=[e.applicant_id for e in entries],
                service_id=service_id,
                status=Booking.Status.CONFIRMED,
            ).values_list("applicant_id", flat=True)
        )
        for entry in entries:
            if entry.applicant_id in active:
                # Booked some other way meanwhile: nothing left to wait for.
                WaitlistEntry.objects.filter(pk=entry.pk, state=entry.state).update(
                    state=WaitlistEntry.State.BOOKED, updated_at=now
                )
                continue
            for slot in slots:
                if slot.pk in unusable or (entry.pk, slot.pk) in offered_before:
                    continue
                local_day = timezone.localdate(slot.starts_at)
                if not entry.date_from <= local_day <= entry.date_to:
                    continue
                if _free_for(slot, entry=entry, now=now) <= 0:
                    continue
                if ballot_closes_at(starts_at=slot.starts_at, now=now) or ballot_undrawn(
                    slot=slot, now=now
                ):
                    unusable.add(slot.pk)  # a day just opened: its seats go to its ballot
                    continue
                try:
                    check_slot_bookable(slot=slot, now=now)
                    check_licence_window(applicant=entry.applicant, slot=slot)
                except SlotUnavailable:
                    unusable.add(slot.pk)
                    continue
                except OutsideLicenceWindow:  # a seat the applicant could not take
                    continue
                if not _hold_seat(slot, entry=entry, now=now):
                    unusable.add(slot.pk)
                    continue
                changed = WaitlistEntry.objects.filter(
                    pk=entry.pk, state=WaitlistEntry.State.WAITING
                ).update(state=WaitlistEntry.State.OFFERED, updated_at=now)
                if changed != 1:  # pragma: no cover - the row lock makes this impossible
                    raise RuntimeError("waiting-list entry changed under its lock")
                offer = Offer.objects.create(
                    entry=entry,
                    slot=slot,
                    applicant_id=entry.applicant_id,
                    expires_at=now + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES),
                    created_at=now,
                )
                offer.slot = slot
                entry.state = WaitlistEntry.State.OFFERED
                offer.entry = entry
                _offer_messages_write(offer=offer)
                made.append(offer)
                break
    return made


def _rescheduling(*, office_id: int, service_id: int) -> bool:
    """Whether an outage run of this office × service is queued or running."""
    return (
        Outage.objects.filter(
            state__in=[Outage.State.QUEUED, Outage.State.RUNNING], offices=office_id
        )
        .filter(Q(services=service_id) | Q(services__isnull=True))
        .exists()
    )


def _offer_messages_write(*, offer: Offer) -> None:
    """The offer's SMS and e-mail, in the offer's transaction (the outbox sends them)."""
    from slots.messages import offer_messages_write

    offer_messages_write(offer=offer)


def offers_expire(*, now: datetime | None = None, chunk: int = 500) -> set[tuple[int, int]]:
    """Expire open offers past `expires_at` (their entries expire with them: the applicant did
    not answer) and free their seats; and expire waiting entries whose last day has passed.
    Returns the office × service pairs whose seats were freed."""
    now = now or timezone.now()
    freed: set[tuple[int, int]] = set()
    with transaction.atomic():
        due = list(
            Offer.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Offer.State.OPEN, expires_at__lte=now)
            .values_list("pk", "entry_id", "slot_id", "slot__office_id", "slot__service_id")[:chunk]
        )
        for pk, entry_id, slot_id, office_id, service_id in due:
            if (
                Offer.objects.filter(pk=pk, state=Offer.State.OPEN).update(
                    state=Offer.State.EXPIRED, decided_at=now
                )
                != 1
            ):
                continue
            _release_offer_seat(slot_id=slot_id)
            WaitlistEntry.objects.filter(pk=entry_id, state=WaitlistEntry.State.OFFERED).update(
                state=WaitlistEntry.State.EXPIRED, updated_at=now
            )
            freed.add((office_id, service_id))
        WaitlistEntry.objects.filter(
            state=WaitlistEntry.State.WAITING, date_to__lt=timezone.localdate(now)
        ).update(state=WaitlistEntry.State.EXPIRED, updated_at=now)
    return freed


def offers_withdraw(*, slot_id: int, keep: int, now: datetime | None = None) -> int:
    """Withdraw the newest open offers on a slot beyond `keep` (a partial outage cut its seats):
    the offers expire unanswered, their seats go, their entries wait again with their place.
    In the caller's transaction, the slot locked. Returns how many were withdrawn."""
    now = now or timezone.now()
    open_offers = list(
        Offer.objects.select_for_update(of=("self",))
        .filter(slot_id=slot_id, state=Offer.State.OPEN)
        .order_by("created_at", "pk")
        .values_list("pk", "entry_id")
    )
    withdrawn = open_offers[keep:]
    for pk, entry_id in withdrawn:
        Offer.objects.filter(pk=pk).update(state=Offer.State.EXPIRED, decided_at=now)
        WaitlistEntry.objects.filter(pk=entry_id, state=WaitlistEntry.State.OFFERED).update(
            state=WaitlistEntry.State.WAITING, updated_at=now
        )
    if withdrawn:
        Slot.objects.filter(pk=slot_id).update(held_offers=F("held_offers") - len(withdrawn))
    return len(withdrawn)


def offers_sweep(*, now: datetime | None = None) -> int:
    """Beat: expire due offers, then offer the free seats of every office × service with a
    waiting entry (seats freed by any path: a cancel whose task was lost, added capacity, a
    resolved or undone outage). Returns the offers made."""
    now = now or timezone.now()
    offers_expire(now=now)
    pairs = (
        WaitlistEntry.objects.filter(state=WaitlistEntry.State.WAITING)
        .values_list("office_id", "service_id")
        .distinct()
    )
    made = 0
    for office_id, service_id in list(pairs):
        made += len(offers_make(office_id=office_id, service_id=service_id, now=now))
    return made


def offer_accept(
    *, offer: Offer, applicant: Model, acting_user=None, now: datetime | None = None
) -> Booking:
    """Turn the offer's held seat into a confirmed booking for `applicant`.

    Race-safe: the offer's row lock orders concurrent accepts; the first books, the others find
    it accepted and get the same booking (a retried tap books once). An expired or answered
    offer raises OfferExpired; the booking rules (mobile verified, no other active booking for
    the service, the slot still bookable, the licence window) apply as to any booking."""
    now = now or timezone.now()
    if mobile_verification_required(applicant=applicant):
        raise MobileNotVerified()
    with busy_on_lock_timeout(), transaction.atomic():
        current = (
            Offer.objects.select_for_update(of=("self",))
            .select_related("entry", "slot", "slot__office", "slot__service", "slot__offering")
            .get(pk=offer.pk, applicant=applicant)
        )
        if current.state == Offer.State.ACCEPTED and current.booking_id is not None:
            return Booking.objects.select_related("slot", "office", "service").get(
                pk=current.booking_id
            )
        if current.state != Offer.State.OPEN or current.expires_at <= now:
            raise OfferExpired()
        slot = current.slot
        check_slot_bookable(slot=slot, now=now)
        check_learner_licence_known(applicant=applicant, slot=slot)
        check_licence_window(applicant=applicant, slot=slot)
        # The held seat becomes a booked one: booked + held_offers stays the same.
        moved = Slot.objects.filter(pk=slot.pk, held_offers__gt=0).update(
            held_offers=F("held_offers") - 1, booked=F("booked") + 1
        )
        if moved != 1:  # pragma: no cover - held_offers counts this open offer
            raise RuntimeError(f"slot {slot.pk} holds no seat for offer {current.pk}")
        displaced = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("applicant", "slot", "office", "service")
            .filter(
                applicant=applicant,
                service=slot.service,
                status__in=[Booking.Status.NEEDS_NEW_SLOT, Booking.Status.ON_HOLD],
            )
            .first()
        )
        if displaced is not None:
            booking, event = _place_displaced(
                booking=displaced, slot=slot, acting_user=acting_user, now=now
            )
            kind = Notification.Kind.RESCHEDULED
        else:
            booking, event = _book(
                applicant=applicant, slot=slot, offer=current, acting_user=acting_user, now=now
            )
            kind = Notification.Kind.BOOKING_CONFIRMED
        current.state = Offer.State.ACCEPTED
        current.booking = booking
        current.decided_at = now
        current.save(update_fields=["state", "booking", "decided_at"])
        WaitlistEntry.objects.filter(pk=current.entry_id, state=WaitlistEntry.State.OFFERED).update(
            state=WaitlistEntry.State.BOOKED, updated_at=now
        )
        messages_write_for_events(events=[event], kind=kind)
    return booking


def _book(*, applicant, slot: Slot, offer: Offer, acting_user, now: datetime):
    """A new confirmed booking in the seat the offer held (already counted in `booked`)."""
    from slots.references import booking_reference_new

    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                reference=booking_reference_new(),
                applicant=applicant,
                slot=slot,
                office=slot.office,
                service=slot.service,
                priority=offer.entry.displaced_by_outage,
                created_at=now,
            )
    except IntegrityError as error:
        if "booking_one_active_per_applicant_service" in str(error):
            raise AlreadyBooked() from None
        raise
    event = BookingEvent.objects.create(
        booking=booking,
        at=now,
        kind=BookingEvent.Kind.BOOKED,
        actor=_actor(acting_user),
        actor_user=acting_user,
        to_slot=slot,
        to_starts_at=slot.starts_at,
    )
    event.booking = booking
    return booking, event


def _place_displaced(*, booking: Booking, slot: Slot, acting_user, now: datetime):
    """A booking an outage left without a seat (needs a new slot, or on hold: it holds none)
    takes the offered seat: moved there and confirmed, its priority kept."""
    if booking.status == Booking.Status.ON_HOLD and booking.held_by_id is not None:
        Outage.objects.filter(pk=booking.held_by_id, on_hold__gt=0).update(on_hold=F("on_hold") - 1)
    old_slot = booking.slot
    booking.slot, booking.office = slot, slot.office
    booking.status, booking.held_by, booking.priority = Booking.Status.CONFIRMED, None, True
    booking.save(update_fields=["slot", "office", "status", "held_by", "priority", "updated_at"])
    event = BookingEvent.objects.create(
        booking=booking,
        at=now,
        kind=BookingEvent.Kind.RESCHEDULED,
        actor=_actor(acting_user),
        actor_user=acting_user,
        from_slot=old_slot,
        to_slot=slot,
        from_starts_at=old_slot.starts_at,
        to_starts_at=slot.starts_at,
    )
    event.booking = booking
    return booking, event


def offer_decline(
    *, offer: Offer, applicant: Model, acting_user=None, now: datetime | None = None
) -> Offer:
    """Say no to an open offer: its seat goes to the next entry. The entry keeps its place in
    the list (never offered that slot again). An answered or expired offer raises
    OfferExpired."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Offer.objects.select_for_update(of=("self",)).get(
            pk=offer.pk, applicant=applicant
        )
        if current.state != Offer.State.OPEN or current.expires_at <= now:
            raise OfferExpired()
        Offer.objects.filter(pk=current.pk, state=Offer.State.OPEN).update(
            state=Offer.State.DECLINED, decided_at=now
        )
        _release_offer_seat(slot_id=current.slot_id)
        WaitlistEntry.objects.filter(pk=current.entry_id, state=WaitlistEntry.State.OFFERED).update(
            state=WaitlistEntry.State.WAITING, updated_at=now
        )
        slot = Slot.objects.only("office_id", "service_id").get(pk=current.slot_id)
        offers_make_on_commit(office_id=slot.office_id, service_id=slot.service_id)
        current.state, current.decided_at = Offer.State.DECLINED, now
    return current
