"""The applicant's web pages: register, sign in, book, see, move and cancel bookings.

Thin by design: each view parses its input with a form or the URL, calls one service or
selector, and renders. Booking rules live in slots.services.bookings and slots.rules; their
errors (slots.errors) carry translated messages that are shown here as they are.

Sign-in is session based: the applicant's id is kept in `request.session` under
`APPLICANT_SESSION_KEY`, and the session key is rotated at sign-in (no fixation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from functools import wraps
from itertools import groupby
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from applicants import selectors
from applicants.errors import (
    AlreadyRegistered,
    MobileLimitReached,
    MobileVerificationError,
    TooManyTries,
)
from applicants.forms import (
    LearnerLicenceForm,
    MobileCodeForm,
    RecoverForm,
    RegisterForm,
    SignInForm,
)
from applicants.mobile import mobile_masked
from applicants.models import Applicant
from applicants.services import (
    applicant_authenticate,
    applicant_learner_licence_set,
    applicant_number_recover,
    applicant_register,
    applicant_signin_failed,
    mobile_code_send,
    mobile_verify,
)
from applicants.templatetags.applicant_pages import day_label, time_label, when
from notifications.backends import appointment_calendar
from rto_booking.rate_limits import ANON, USER, applicant_ident, client_address, client_rate_wait
from rto_booking.signin_limits import SignInPolicy, recovery_requests, signin_failures
from slots.errors import (
    AlreadyBooked,
    BookingError,
    BookingNotActive,
    InBallot,
    OfferExpired,
    SlotFull,
)
from slots.links import (
    offer_id_from_token,
    offer_path,
    one_tap_cancel_reference,
    reminder_link_reference,
    reminder_link_token,
)
from slots.messages import booking_message_context
from slots.models import Booking, Offer, Offering, Service, Slot, WaitlistEntry
from slots.rules import ballot_closes_at, mobile_verification_required
from slots.selectors import (
    DayAvailability,
    availability_for_office,
    booking_calendar_sequence,
    offering_get,
    offers_for_applicant,
    office_get_with_services,
    office_list_with_services,
    outage_active_by_office,
    waitlist_entries_for_applicant,
)
from slots.services.ballot import ballot_entries_for_applicant
from slots.services.bookings import (
    booking_attendance_confirm,
    booking_cancel,
    booking_create,
    booking_reschedule,
)
from slots.services.waitlist import offer_accept, offer_decline, waitlist_join, waitlist_leave

APPLICANT_SESSION_KEY = "applicant_id"


# --- Session ---------------------------------------------------------------------------------


def _session_applicant(request: HttpRequest) -> Applicant | None:
    applicant_id = request.session.get(APPLICANT_SESSION_KEY)
    return selectors.applicant_get(applicant_id=applicant_id) if applicant_id else None


def _sign_in(request: HttpRequest, applicant: Applicant) -> None:
    # A new session key (keeping the data, e.g. the chosen language) and a new CSRF token:
    # a key planted before sign-in is worth nothing after it.
    request.session.cycle_key()
    request.session[APPLICANT_SESSION_KEY] = applicant.pk
    rotate_token(request)


def applicant_required(view: Callable) -> Callable:
    """Run `view` with `request.applicant`, or send the visitor to sign in and come back."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        applicant = _session_applicant(request)
        if applicant is None:
            return redirect_to_login(request.get_full_path(), reverse("applicants:signin"))
        request.applicant = applicant
        response = view(request, *args, **kwargs)
        # Personal pages (bookings, details, the .ics): never kept by a shared cache, a proxy
        # or the back button of a shared phone.
        patch_cache_control(response, private=True, no_store=True)
        return response

    return wrapper


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _signin_counter(request: HttpRequest, application_number: str) -> SignInPolicy:
    """Failed sign-ins per application number and per client address (as the API sees it,
    rto_booking.rate_limits.client_address), under the one policy."""
    return signin_failures(
        application_number=application_number, client_address=client_address(request)
    )


# --- Request rates ---------------------------------------------------------------------------


def _wait_words(seconds: float) -> str:
    if seconds < 90:
        count = max(1, math.ceil(seconds))
        return ngettext("%(count)s second", "%(count)s seconds", count) % {"count": count}
    count = math.ceil(seconds / 60)
    return ngettext("%(count)s minute", "%(count)s minutes", count) % {"count": count}


def too_many_requests(request: HttpRequest, wait: float) -> HttpResponse:
    """429 in the visitor's language, saying when to try again, with Retry-After."""
    response = render(
        request,
        "applicants/too_many_requests.html",
        {"wait": _wait_words(wait), "back_url": request.get_full_path()},
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _over_client_rate(request: HttpRequest, applicant: Applicant | None = None) -> float | None:
    """Count one costly page request (a registration, a booking) against the client's API
    rate — a visitor's per address, a signed-in applicant's per applicant, exactly as the API
    counts them; the seconds to wait when over it, else None."""
    if applicant is None:
        return client_rate_wait(request=request, scope=ANON, ident=client_address(request))
    return client_rate_wait(request=request, scope=USER, ident=applicant_ident(applicant.pk))


# --- Register, sign in, sign out -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and (wait := _over_client_rate(request)) is not None:
        return too_many_requests(request, wait)
    form = RegisterForm(request.POST if request.method == "POST" else None)
    # Where the applicant was going (the time chosen before signing in): kept through the
    # welcome page and the mobile code, back to that time's confirm page.
    next_url = _safe_next(request, "")
    already_registered = False
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            applicant = applicant_register(**form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        except AlreadyRegistered:
            # Said plainly, with the way to the number; never the number itself.
            already_registered = True
            status = AlreadyRegistered.status
            form.add_error(
                None,
                _("You are already registered with this name, date of birth and mobile number."),
            )
        except BookingError as error:  # busy: an identical registration is still in flight
            status = error.status
            form.add_error(None, error.message)
        else:
            _sign_in(request, applicant)
            welcome_url = reverse("applicants:welcome")
            if next_url:
                welcome_url += "?" + urlencode({"next": next_url})
            return HttpResponseRedirect(welcome_url)
    return render(
        request,
        "applicants/register.html",
        {"form": form, "already_registered": already_registered, "next": next_url},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def recover(request: HttpRequest) -> HttpResponse:
    """ "Forgot application number": the same neutral answer whether anybody matched or not
    (the number goes by SMS to the registered mobile, never onto this page)."""
    form = RecoverForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        attempts = recovery_requests(
            mobile=form.cleaned_data["mobile"], client_address=client_address(request)
        )
        if (wait := attempts.retry_after()) is not None:
            return too_many_requests(request, wait)
        attempts.record_failure()  # every request counts, a match or not
        applicant_number_recover(**form.cleaned_data)
        return render(request, "applicants/recover_sent.html")
    return render(
        request,
        "applicants/recover.html",
        {"form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@applicant_required
def welcome(request: HttpRequest) -> HttpResponse:
    applicant = request.applicant
    chosen = _safe_next(request, "")
    context = {"applicant": applicant, "next": chosen}
    if mobile_verification_required(applicant=applicant):
        # The code sent at registration is asked for right here, under the number.
        context.update(
            code_form=MobileCodeForm(),
            sent_to=mobile_masked(applicant.mobile),
            code_pending=selectors.mobile_code_pending(applicant=applicant),
            next=chosen or reverse("applicants:book_offices"),
        )
    return render(request, "applicants/welcome.html", context)


def _verify_url(next_url: str) -> str:
    return f"{reverse('applicants:verify_mobile')}?{urlencode({'next': next_url})}"


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


@applicant_required
@require_http_methods(["GET", "POST"])
def verify_mobile(request: HttpRequest) -> HttpResponse:
    """ "Enter the code we sent to +91 98xxxxxx12", with a button for a new code. Works
    without JavaScript: both are plain forms posting here (`action` says which)."""
    applicant = request.applicant
    next_url = _safe_next(request, reverse("applicants:book_offices"))
    if not mobile_verification_required(applicant=applicant):
        return HttpResponseRedirect(next_url)
    address = client_address(request)
    form = MobileCodeForm(
        request.POST
        if request.method == "POST" and request.POST.get("action") != "resend"
        else None
    )
    status = 200
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            mobile_code_send(applicant=applicant, client_address=address)
        except TooManyTries as error:
            messages.error(
                request,
                _("You have asked for many codes. Please wait %(minutes)s minutes.")
                % {"minutes": _minutes(error.retry_after)},
            )
            status = 429
        else:
            messages.success(request, _("We have sent a new code. It may take a minute."))
            return redirect(_verify_url(next_url))
    elif request.method == "POST" and form.is_valid():
        try:
            mobile_verify(
                applicant=applicant, code=form.cleaned_data["code"], client_address=address
            )
        except MobileVerificationError as error:
            message = error.message
            if isinstance(error, TooManyTries):
                status = 429
            elif isinstance(error, MobileLimitReached):
                status = 409
            else:
                status = 400
            form.add_error("code" if status == 400 else None, message)
        else:
            messages.success(request, _("Your mobile number is verified. You can book now."))
            return HttpResponseRedirect(next_url)
    elif form.is_bound:
        status = 400
    return render(
        request,
        "applicants/verify_mobile.html",
        {
            "form": form,
            "sent_to": mobile_masked(applicant.mobile),
            "code_pending": selectors.mobile_code_pending(applicant=applicant),
            "next": next_url,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST if request.method == "POST" else None)
    next_url = _safe_next(request, reverse("applicants:my_bookings"))
    status = 200
    if request.method == "POST" and form.is_valid():
        failures = _signin_counter(request, form.cleaned_data["application_number"])
        wait = failures.retry_after()
        if wait is not None:
            form.add_error(
                None,
                _(
                    "Too many unsuccessful attempts. For your safety, please wait "
                    "%(minutes)s minutes and try again."
                )
                % {"minutes": max(1, math.ceil(wait / 60))},
            )
            status = 429
        else:
            applicant = applicant_authenticate(**form.cleaned_data)
            if applicant is None:
                applicant_signin_failed(
                    failures=failures, application_number=form.cleaned_data["application_number"]
                )
                # One message for both mistakes: the page never tells which half was wrong.
                form.add_error(
                    None,
                    _(
                        "The application number and date of birth do not match our records. "
                        "Please check both and try again."
                    ),
                )
            else:
                _sign_in(request, applicant)
                return HttpResponseRedirect(next_url)
    register_url = reverse("applicants:register")
    if _safe_next(request, ""):
        register_url += "?" + urlencode({"next": next_url})
    return render(
        request,
        "applicants/signin.html",
        {"form": form, "next": next_url, "register_url": register_url},
        status=status,
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    request.session.flush()  # the language choice is a cookie of its own and stays
    messages.success(request, _("You have signed out."))
    return redirect("home")


# --- Booking flow: office → service → day → time → confirm -----------------------------------


def _calendar(days: list[DayAvailability], url_for: Callable[[date], str]) -> list:
    """Days grouped by month, each with its free seats and (when bookable) its link."""
    cells = []
    for day in days:
        free = sum(entry.available for entry in day.slots)
        cells.append(
            {
                "day": day,
                "free": free,
                "url": url_for(day.date) if day.status == "open" else "",
            }
        )
    return [
        {"month": month, "cells": list(group)}
        for month, group in groupby(cells, key=lambda c: c["day"].date.replace(day=1))
    ]


def _offering_or_404(office_code: str, service_slug: str) -> Offering:
    offering = offering_get(
        office_code=office_code, service_slug=service_slug, taking_bookings=True
    )
    if offering is None:
        raise Http404
    return offering


def _passed(
    request: HttpRequest,
    *,
    offering: Offering,
    calendar_url: str,
    day: date | None = None,
    slot: Slot | None = None,
) -> HttpResponse:
    """A day or a time that is over, said in the visitor's language with the way to the
    calendar (410: the address was right once, and will not be again)."""
    return render(
        request,
        "applicants/passed.html",
        {"offering": offering, "calendar_url": calendar_url, "day": day, "slot": slot},
        status=410,
    )


def _bookable_day_or_404(day: date) -> date:
    first, last = selectors.booking_days()
    if not first <= day <= last:
        raise Http404
    return day


def book_offices(request: HttpRequest) -> HttpResponse:
    offices = office_list_with_services()
    outages = outage_active_by_office()
    return render(
        request,
        "applicants/book_offices.html",
        {"offices": [(office, outages.get(office.pk, [])) for office in offices]},
    )


def book_services(request: HttpRequest, office_code: str) -> HttpResponse:
    office = office_get_with_services(code=office_code)
    if office is None:
        raise Http404
    return render(
        request,
        "applicants/book_services.html",
        {"office": office, "outages": outage_active_by_office().get(office.pk, [])},
    )


def book_days(request: HttpRequest, office_code: str, service_slug: str) -> HttpResponse:
    offering = _offering_or_404(office_code, service_slug)
    first, last = selectors.booking_days()
    days = availability_for_office(offering=offering, date_from=first, date_to=last)
    months = _calendar(
        days,
        lambda day: reverse(
            "applicants:book_times", args=[offering.office.code, offering.service.slug, day]
        ),
    )
    any_free = any(cell["url"] and cell["free"] > 0 for m in months for cell in m["cells"])
    return render(
        request,
        "applicants/days.html",
        {
            "offering": offering,
            "months": months,
            "horizon_days": settings.BOOKING_HORIZON_DAYS,
            # No free day: offer the waiting list instead (DESIGN.md, "Fair access").
            "waitlist_offered": not any_free,
            "first_day": first,
            "last_day": last,
        },
    )


def book_times(
    request: HttpRequest, office_code: str, service_slug: str, day: date
) -> HttpResponse:
    offering = _offering_or_404(office_code, service_slug)
    calendar_url = reverse(
        "applicants:book_days", args=[offering.office.code, offering.service.slug]
    )
    if day < selectors.booking_days()[0]:
        return _passed(request, offering=offering, calendar_url=calendar_url, day=day)
    availability = selectors.day_availability(offering=offering, day=_bookable_day_or_404(day))
    times = [
        (entry, reverse("applicants:book_confirm", args=[entry.slot.pk]))
        for entry in availability.slots
    ]
    first, last = selectors.booking_days()
    return render(
        request,
        "applicants/times.html",
        {
            "offering": offering,
            "availability": availability,
            "times": times,
            "back_url": calendar_url,
            # Times but no free seat: this day's waiting list, right here.
            "waitlist_offered": availability.slots
            and not any(entry.available for entry in availability.slots),
            "first_day": first,
            "last_day": last,
        },
    )


def _slot_or_404(slot_id: int) -> Slot:
    slot = selectors.slot_get(slot_id=slot_id)
    if slot is None:
        raise Http404
    return slot


def _problem(
    request: HttpRequest,
    error: BookingError,
    *,
    slot: Slot,
    url_for_slot: Callable[[Slot], str],
    priority: bool = False,
    back_url: str,
    current_slot_id: int | None = None,
) -> HttpResponse:
    """A booking error as a page in the applicant's language, with a way forward."""
    alternatives = []
    existing = None
    if isinstance(error, SlotFull):
        alternatives = [
            (entry, url_for_slot(entry.slot))
            for entry in selectors.free_slots_after(
                offering=slot.offering,
                day=timezone.localdate(slot.starts_at),
                # Neither the time that just filled up nor the booking's own current time.
                exclude_slot_ids=(slot.pk, current_slot_id),
                priority=priority,
            )
        ]
    elif isinstance(error, AlreadyBooked):
        existing = selectors.applicant_active_booking_for_service(
            applicant=request.applicant, service_id=slot.service_id
        )
    return render(
        request,
        "applicants/problem.html",
        {
            "error": error,
            "slot": slot,
            "alternatives": alternatives,
            "existing": existing,
            "back_url": back_url,
        },
        status=error.status,
    )


@applicant_required
@require_http_methods(["GET", "POST"])
def book_confirm(request: HttpRequest, slot_id: int) -> HttpResponse:
    slot = _slot_or_404(slot_id)
    if slot.starts_at <= timezone.now():
        return _passed(
            request,
            offering=slot.offering,
            slot=slot,
            calendar_url=reverse(
                "applicants:book_days", args=[slot.office.code, slot.service.slug]
            ),
        )
    if mobile_verification_required(applicant=request.applicant):
        # First the code sent to the mobile, then back here to confirm the chosen time.
        return redirect(_verify_url(request.path))
    back_url = reverse(
        "applicants:book_times",
        args=[slot.office.code, slot.service.slug, timezone.localdate(slot.starts_at)],
    )
    # A driving test is booked with the learner licence's date: asked here when missing.
    licence_form = None
    if (
        slot.service.slug == Service.DRIVING_TEST
        and request.applicant.learner_licence_issued_on is None
    ):
        licence_form = LearnerLicenceForm(
            request.POST if request.method == "POST" else None, applicant=request.applicant
        )
    if request.method == "POST":
        if (wait := _over_client_rate(request, request.applicant)) is not None:
            return too_many_requests(request, wait)
        if licence_form is not None:
            if not licence_form.is_valid():
                return render(
                    request,
                    "applicants/confirm.html",
                    {
                        "slot": slot,
                        "back_url": back_url,
                        "action": request.path,
                        "form": licence_form,
                    },
                    status=400,
                )
            applicant_learner_licence_set(
                applicant=request.applicant,
                issued_on=licence_form.cleaned_data["learner_licence_issued_on"],
            )
        try:
            booking = booking_create(applicant=request.applicant, slot_id=slot.pk)
        except InBallot as entered:
            messages.info(
                request,
                _(
                    "Your request is in the draw for %(day)s. The ballot closes at %(time)s; "
                    "you get the result by SMS right after."
                )
                % {
                    "day": day_label(entered.entry.day),
                    "time": time_label(entered.entry.closes_at),
                },
            )
            return redirect(reverse("applicants:my_bookings") + "#ballot")
        except BookingError as error:
            return _problem(
                request,
                error,
                slot=slot,
                url_for_slot=lambda s: reverse("applicants:book_confirm", args=[s.pk]),
                back_url=back_url,
            )
        messages.success(
            request,
            _("Booked. Your reference is %(reference)s.") % {"reference": booking.reference},
        )
        return redirect("applicants:booking_slip", reference=booking.reference)
    return render(
        request,
        "applicants/confirm.html",
        {
            "slot": slot,
            "back_url": back_url,
            "action": request.path,
            "form": licence_form,
            "ballot_until": ballot_closes_at(starts_at=slot.starts_at, now=timezone.now()),
        },
    )


@applicant_required
@require_http_methods(["GET", "POST"])
def my_details(request: HttpRequest) -> HttpResponse:
    """The applicant's details; the learner licence's date can be recorded or corrected."""
    applicant = request.applicant
    form = LearnerLicenceForm(
        request.POST if request.method == "POST" else None,
        applicant=applicant,
        initial={"learner_licence_issued_on": applicant.learner_licence_issued_on},
    )
    if request.method == "POST" and form.is_valid():
        applicant_learner_licence_set(
            applicant=applicant, issued_on=form.cleaned_data["learner_licence_issued_on"]
        )
        messages.success(request, _("Your learner licence date is saved."))
        return redirect("applicants:my_details")
    return render(
        request,
        "applicants/my_details.html",
        {"applicant": applicant, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


# --- My bookings -----------------------------------------------------------------------------


def _own_booking_or_404(request: HttpRequest, reference: str, *, history: bool = False) -> Booking:
    if history:
        booking = selectors.applicant_booking_with_history(
            applicant=request.applicant, reference=reference
        )
    else:
        booking = selectors.applicant_booking_get(applicant=request.applicant, reference=reference)
    if booking is None:
        raise Http404
    return booking


@applicant_required
def my_bookings(request: HttpRequest) -> HttpResponse:
    bookings = selectors.applicant_bookings(applicant=request.applicant)
    notices = selectors.applicant_outage_notices(bookings=bookings)
    offers = offers_for_applicant(applicant=request.applicant, open_only=True)
    for offer in offers:
        offer.page_url = offer_path(offer_id=offer.pk)
    return render(
        request,
        "applicants/my_bookings.html",
        {
            "applicant": request.applicant,
            "bookings": bookings,
            "notices": notices,
            "waitlist": waitlist_entries_for_applicant(applicant=request.applicant, open_only=True),
            "ballot_entries": ballot_entries_for_applicant(applicant=request.applicant),
            "offers": offers,
        },
    )


# --- Waiting list and offers -------------------------------------------------------------------


def _date_or(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return default


@applicant_required
@require_http_methods(["GET", "POST"])
def waitlist_join_page(request: HttpRequest, office_code: str, service_slug: str) -> HttpResponse:
    """Join the waiting list of an office × service: GET shows the form (a signed-out visitor
    comes back here after signing in), POST joins."""
    offering = _offering_or_404(office_code, service_slug)
    first, last = selectors.booking_days()
    date_from = _date_or(request.POST.get("from") or request.GET.get("from"), first)
    date_to = _date_or(request.POST.get("to") or request.GET.get("to"), last)
    error = None
    if request.method == "POST":
        try:
            waitlist_join(
                applicant=request.applicant,
                office=offering.office,
                service=offering.service,
                date_from=date_from,
                date_to=date_to,
            )
        except BookingError as problem:
            error = problem.message
        else:
            messages.success(
                request,
                _(
                    "You are on the waiting list. When a seat is free we hold it for you and "
                    "send you an SMS and an e-mail."
                ),
            )
            return redirect(reverse("applicants:my_bookings") + "#waitlist")
    return render(
        request,
        "applicants/waitlist_join.html",
        {
            "offering": offering,
            "date_from": date_from,
            "date_to": date_to,
            "first_day": first,
            "last_day": last,
            "error": error,
        },
        status=409 if error else 200,
    )


@applicant_required
@require_POST
def waitlist_leave_page(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = WaitlistEntry.objects.filter(pk=entry_id, applicant=request.applicant).first()
    if entry is None:
        raise Http404
    waitlist_leave(entry=entry)
    messages.success(request, _("You have left the waiting list."))
    return redirect("applicants:my_bookings")


@require_http_methods(["GET", "POST"])
def offer_page(request: HttpRequest, token: str) -> HttpResponse:
    """The one-tap link of a waiting-list offer: no sign-in, the signed token is the proof; the
    page speaks the applicant's language unless the visitor chose one (the language cookie).
    Accept and Decline are plain POST forms."""
    offer_id = offer_id_from_token(token=token)
    offer = (
        Offer.objects.select_related("slot", "slot__office", "slot__service", "applicant")
        .filter(pk=offer_id)
        .first()
        if offer_id
        else None
    )
    if offer is None:
        return render(request, "applicants/link_invalid.html", status=400)
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        # The link comes in an SMS in the applicant's language: the page speaks it too, as the
        # reminder's links do, unless the visitor chose a language with the switcher.
        language = offer.applicant.preferred_language or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
    booking, error = None, None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "accept":
                booking = offer_accept(offer=offer, applicant=offer.applicant)
            elif action == "decline":
                offer_decline(offer=offer, applicant=offer.applicant)
        except OfferExpired:
            pass  # the page says so below
        except BookingError as problem:
            error = problem.message
        offer.refresh_from_db()
    if booking is None and offer.booking_id:
        booking = Booking.objects.filter(pk=offer.booking_id).first()
    expired = offer.state == Offer.State.EXPIRED or (
        offer.state == Offer.State.OPEN and offer.expires_at <= timezone.now()
    )
    return render(
        request,
        "applicants/offer.html",
        {"offer": offer, "booking": booking, "expired": expired, "error": error},
        status=409 if (error or (expired and request.method == "POST")) else 200,
    )


@applicant_required
def booking_slip(request: HttpRequest, reference: str) -> HttpResponse:
    booking = _own_booking_or_404(request, reference, history=True)
    return render(request, "applicants/slip.html", {"booking": booking})


@applicant_required
def booking_calendar(request: HttpRequest, reference: str) -> HttpResponse:
    booking = _own_booking_or_404(request, reference)
    if booking.status != Booking.Status.CONFIRMED:
        raise Http404
    # The very file the booking's e-mails attach (same UID, SEQUENCE and times): built from
    # the context a message about the booking carries now.
    context = booking_message_context(booking)
    context["calendar_sequence"] = booking_calendar_sequence(booking=booking)
    body = appointment_calendar(context=context, language=get_language())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rto-{booking.reference}.ics"'
    return response


# --- Reschedule: day → time → confirm, for the same office and service -----------------------


def _changeable_or_problem(request: HttpRequest, booking: Booking) -> HttpResponse | None:
    if booking.is_active:
        return None
    return _problem(
        request,
        BookingNotActive(),
        slot=booking.slot,
        url_for_slot=lambda s: "",
        back_url=reverse("applicants:my_bookings"),
    )


@applicant_required
def reschedule_days(request: HttpRequest, reference: str) -> HttpResponse:
    booking = _own_booking_or_404(request, reference)
    if (problem := _changeable_or_problem(request, booking)) is not None:
        return problem
    offering = selectors.offering_of_slot(slot=booking.slot)
    first, last = selectors.booking_days()
    days = availability_for_office(
        offering=offering, date_from=first, date_to=last, priority=booking.priority
    )
    months = _calendar(
        days, lambda day: reverse("applicants:reschedule_times", args=[booking.reference, day])
    )
    return render(
        request,
        "applicants/days.html",
        {
            "offering": offering,
            "months": months,
            "booking": booking,
            "horizon_days": settings.BOOKING_HORIZON_DAYS,
        },
    )


@applicant_required
def reschedule_times(request: HttpRequest, reference: str, day: date) -> HttpResponse:
    booking = _own_booking_or_404(request, reference)
    if (problem := _changeable_or_problem(request, booking)) is not None:
        return problem
    offering = selectors.offering_of_slot(slot=booking.slot)
    if day < selectors.booking_days()[0]:
        return _passed(
            request,
            offering=offering,
            day=day,
            calendar_url=reverse("applicants:reschedule_days", args=[booking.reference]),
        )
    availability = selectors.day_availability(
        offering=offering, day=_bookable_day_or_404(day), priority=booking.priority
    )
    times = [
        (entry, reverse("applicants:reschedule_confirm", args=[booking.reference, entry.slot.pk]))
        for entry in availability.slots
        if not (entry.slot.pk == booking.slot_id and booking.status == Booking.Status.CONFIRMED)
    ]
    return render(
        request,
        "applicants/times.html",
        {
            "offering": offering,
            "availability": availability,
            "times": times,
            "booking": booking,
            "back_url": reverse("applicants:reschedule_days", args=[booking.reference]),
        },
    )


@applicant_required
@require_http_methods(["GET", "POST"])
def reschedule_confirm(request: HttpRequest, reference: str, slot_id: int) -> HttpResponse:
    booking = _own_booking_or_404(request, reference)
    slot = _slot_or_404(slot_id)
    back_url = reverse(
        "applicants:reschedule_times",
        args=[booking.reference, timezone.localdate(slot.starts_at)],
    )
    if request.method == "POST":
        if (wait := _over_client_rate(request, request.applicant)) is not None:
            return too_many_requests(request, wait)
        try:
            booking = booking_reschedule(booking=booking, slot_id=slot.pk)
        except BookingError as error:
            return _problem(
                request,
                error,
                slot=slot,
                url_for_slot=lambda s: reverse(
                    "applicants:reschedule_confirm", args=[booking.reference, s.pk]
                ),
                priority=booking.priority,
                back_url=back_url,
                current_slot_id=(
                    booking.slot_id if booking.status == Booking.Status.CONFIRMED else None
                ),
            )
        messages.success(
            request,
            _("Your appointment is now on %(when)s.") % {"when": when(booking.slot.starts_at)},
        )
        return redirect("applicants:booking_slip", reference=booking.reference)
    if (problem := _changeable_or_problem(request, booking)) is not None:
        return problem
    if slot.starts_at <= timezone.now():
        return _passed(
            request,
            offering=slot.offering,
            slot=slot,
            calendar_url=reverse("applicants:reschedule_days", args=[booking.reference]),
        )
    return render(
        request,
        "applicants/confirm.html",
        {"slot": slot, "booking": booking, "back_url": back_url, "action": request.path},
    )


# --- Cancel ----------------------------------------------------------------------------------


@applicant_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, reference: str) -> HttpResponse:
    booking = _own_booking_or_404(request, reference)
    if request.method == "POST":
        try:
            booking_cancel(booking=booking)
        except BookingError as error:
            return _problem(
                request,
                error,
                slot=booking.slot,
                url_for_slot=lambda s: "",
                back_url=reverse("applicants:my_bookings"),
            )
        messages.success(
            request,
            _("Booking %(reference)s is cancelled. Its seat is free for someone else now.")
            % {"reference": booking.reference},
        )
        return redirect("applicants:my_bookings")
    if (problem := _changeable_or_problem(request, booking)) is not None:
        return problem
    return render(request, "applicants/cancel.html", {"booking": booking})


@require_http_methods(["GET", "POST"])
def one_tap_cancel(request: HttpRequest, token: str) -> HttpResponse:
    """The "I can't come" link of the reminder: no sign-in, the signed token is the proof."""
    reference = one_tap_cancel_reference(token=token)
    booking = selectors.booking_by_reference(reference=reference) if reference else None
    if booking is None:
        return render(request, "applicants/link_invalid.html", status=400)
    done = False
    if request.method == "POST" and booking.is_active:
        try:
            booking = booking_cancel(booking=booking, reason="one-tap cancel link")
            done = True
        except BookingNotActive:
            booking.refresh_from_db()
    return render(request, "applicants/one_tap_cancel.html", {"booking": booking, "done": done})


# --- The reminder's one-tap links: "I'll come" (/yes/…) and "I can't come" (/no/…) ------------


def _reminder_link_booking(request: HttpRequest, action: str, token: str) -> Booking | None:
    """The booking a reminder link names, or None for a forged or edited one. The page speaks
    the applicant's language unless the visitor chose one (the language cookie)."""
    reference = reminder_link_reference(action=action, token=token)
    booking = selectors.booking_by_reference(reference=reference) if reference else None
    if booking is not None and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        language = booking.applicant.preferred_language or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
    return booking


@require_http_methods(["GET", "POST"])
def reminder_yes(request: HttpRequest, token: str) -> HttpResponse:
    """ "I'll come": no sign-in, the signed link is the proof. GET shows the booking and one
    button (a link previewer that opens the link changes nothing); POST confirms, once."""
    booking = _reminder_link_booking(request, "yes", token)
    if booking is None:
        return render(request, "applicants/link_invalid.html", status=400)
    done = False
    if request.method == "POST" and booking.attendance != "confirmed":
        try:
            booking = booking_attendance_confirm(booking=booking)
            done = True
        except BookingNotActive:
            booking.refresh_from_db()
    response = render(
        request,
        "applicants/reminder_yes.html",
        {
            "booking": booking,
            "done": done,
            "open": booking.status == Booking.Status.CONFIRMED
            and booking.slot.ends_at > timezone.now(),
            "cancel_path": reverse(
                "applicants:reminder_no",
                args=[reminder_link_token(action="no", reference=booking.reference)],
            ),
        },
    )
    # A booking's page opened from a link: never kept by a shared cache or a shared phone.
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_http_methods(["GET", "POST"])
def reminder_no(request: HttpRequest, token: str) -> HttpResponse:
    """ "I can't come": the existing one-tap cancel page, through the cancel service, so the
    seat frees as any cancel does."""
    booking = _reminder_link_booking(request, "no", token)
    if booking is None:
        return render(request, "applicants/link_invalid.html", status=400)
    done = False
    if request.method == "POST" and booking.is_active:
        try:
            booking = booking_cancel(booking=booking, reason="reminder: can't come")
            done = True
        except BookingNotActive:
            booking.refresh_from_db()
    response = render(request, "applicants/one_tap_cancel.html", {"booking": booking, "done": done})
    patch_cache_control(response, private=True, no_store=True)
    return response


@applicant_required
@require_POST
def confirm_coming(request: HttpRequest, reference: str) -> HttpResponse:
    """ "I'll come" from My bookings (signed in): the same service as the reminder's link."""
    booking = _own_booking_or_404(request, reference)
    try:
        booking_attendance_confirm(booking=booking)
    except BookingNotActive as error:
        return _problem(
            request,
            error,
            slot=booking.slot,
            url_for_slot=lambda s: "",
            back_url=reverse("applicants:my_bookings"),
        )
    messages.success(
        request,
        _("Thank you: booking %(reference)s is confirmed. Please come on time.")
        % {"reference": booking.reference},
    )
    return redirect("applicants:my_bookings")
