"""API v1 views: parse with a serializer, call one service or selector, render the result.

Business rules live in slots.services / applicants.services; their errors carry the API code
and status and are rendered by api.errors.api_exception_handler.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api import selectors
from api import serializers as s
from api.authentication import is_applicant
from api.errors import ErrorSerializer, InvalidCredentials
from api.permissions import (
    IsApplicant,
    IsApplicantOrStaff,
    IsStaff,
    require_offices,
    require_perm,
    staff_office_ids,
)
from api.throttling import RecoveryRequests, SignInFailures
from applicants.errors import MobileLimitReached, MobileVerificationError, TooManyTries
from applicants.mobile import mobile_masked
from applicants.services import (
    applicant_authenticate,
    applicant_learner_licence_set,
    applicant_number_recover,
    applicant_register,
    mobile_code_send,
    mobile_verify,
)
from applicants.tokens import applicant_token_issue, applicant_token_revoke
from rto_booking.rate_limits import client_address
from slots.errors import InBallot
from slots.outage_reasons import outage_reason_hi_default
from slots.selectors import (
    availability_for_office,
    offering_get,
    offers_for_applicant,
    office_get_with_services,
    office_list_with_services,
    waitlist_entries_for_applicant,
    waitlist_position,
)
from slots.services.ballot import ballot_entries_for_applicant, ballot_entry_get
from slots.services.bookings import (
    booking_cancel,
    booking_check_in,
    booking_create,
    booking_create_idempotent,
    booking_reschedule,
)
from slots.services.outages import outage_create, outage_extend, outage_preview, outage_resolve
from slots.services.waitlist import offer_accept, offer_decline, waitlist_join, waitlist_leave

IDEMPOTENCY_KEY_MAX = 100

_ERRORS = {
    400: "`invalid`: the input is not valid; `fields` says where.",
    401: "`not_authenticated` (or `invalid_credentials` on sign-in).",
    403: "`forbidden`: not allowed for this caller or this office.",
    404: "`not_found`.",
    409: "A conflict with the current state; see the code.",
    429: "`throttled`: too many requests; see the Retry-After header.",
    503: "`busy`: the database is busy; retry shortly.",
}


def errors(*codes: int, **described: str) -> dict:
    """Error responses for extend_schema, all with the one error shape (ErrorSerializer)."""
    responses = {
        code: OpenApiResponse(ErrorSerializer, description=_ERRORS[code]) for code in codes
    }
    for code, text in described.items():
        responses[int(code.lstrip("e"))] = OpenApiResponse(ErrorSerializer, description=text)
    # Every endpoint is rate limited.
    responses.setdefault(429, OpenApiResponse(ErrorSerializer, description=_ERRORS[429]))
    return responses


BOOKING_CONFLICTS = {
    "e409": "`slot_full`, `already_booked`, `slot_unavailable` (past, closed, or in an outage), "
    "`booking_not_active`, `reschedule_limit_reached`, `outside_licence_window`, "
    "`learner_licence_required` (a driving test without the learner licence's date), "
    "`idempotency_key_reused`, `invalid_slot_choice` (a move to another office or service), "
    "`mobile_not_verified` (a booking before the one-time code was entered), `ballot_open` "
    "(a move into a day whose first minutes are drawn by lot, or a day being drawn)."
}

# --- Public ---------------------------------------------------------------------------------


class OfficeListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="offices_list",
        responses={200: s.OfficeOutSerializer(many=True), **errors()},
        tags=["offices"],
    )
    def get(self, request):
        offices = office_list_with_services()
        return Response(s.OfficeOutSerializer(offices, many=True).data)


class OfficeDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="offices_retrieve",
        responses={200: s.OfficeOutSerializer, **errors(404)},
        tags=["offices"],
    )
    def get(self, request, code: str):
        office = office_get_with_services(code=code)
        if office is None:
            raise exceptions.NotFound(_("No such office."))
        return Response(s.OfficeOutSerializer(office).data)


class AvailabilityView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="offices_availability",
        parameters=[s.AvailabilityQuerySerializer],
        responses={200: s.AvailabilitySerializer, **errors(400, 404)},
        tags=["offices"],
    )
    def get(self, request, code: str):
        query = s.AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        offering = offering_get(office_code=code, service_slug=query.validated_data["service"])
        if offering is None:
            if office_get_with_services(code=code) is None:
                raise exceptions.NotFound(_("No such office."))
            raise exceptions.ValidationError(
                {"service": [_("This office does not offer this service.")]}
            )
        days = availability_for_office(
            offering=offering,
            date_from=query.validated_data["from"],
            date_to=query.validated_data["to"],
        )
        body = {"office": offering.office.code, "service": offering.service.slug, "days": days}
        return Response(s.AvailabilitySerializer(body).data)


# --- Sign-in and registration ---------------------------------------------------------------


class ApplicantSignInView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="auth_applicant",
        request=s.SignInSerializer,
        responses={
            200: s.TokenOutSerializer,
            **errors(400, e401="`invalid_credentials`: no applicant with this number and date."),
        },
        tags=["auth"],
        auth=[],
    )
    def post(self, request):
        number = request.data.get("application_number") if hasattr(request.data, "get") else ""
        failures = SignInFailures(request=request, application_number=str(number or ""))
        failures.check()
        data = s.SignInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        applicant = applicant_authenticate(**data.validated_data)
        if applicant is None:
            failures.record()
            raise InvalidCredentials()
        issued = applicant_token_issue(applicant=applicant)
        return Response(s.TokenOutSerializer(issued).data)


class LogoutView(APIView):
    """Sign out: the token of this request stops working at once (applicant or staff)."""

    permission_classes = [IsApplicantOrStaff]

    @extend_schema(
        operation_id="auth_logout",
        request=None,
        responses={204: None, **errors(401)},
        tags=["auth"],
    )
    def post(self, request):
        if is_applicant(request.user):
            applicant_token_revoke(token=request.auth)
        else:
            request.auth.delete()  # the staff user's DRF token
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApplicantRegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="applicants_create",
        request=s.ApplicantInSerializer,
        responses={
            201: s.ApplicantOutSerializer,
            **errors(
                400,
                e409="`already_registered`: an applicant with this full name (case and spacing "
                "aside), date of birth and mobile exists; the number is never in the answer — "
                "ask for it with `POST /api/v1/applicants/recover/`.",
                e503="`busy`: an identical registration is in flight; retry shortly.",
            ),
        },
        tags=["applicants"],
        auth=[],
    )
    def post(self, request):
        data = s.ApplicantInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        applicant = applicant_register(**data.validated_data)
        return Response(s.ApplicantOutSerializer(applicant).data, status=status.HTTP_201_CREATED)


def _mobile_error(error: MobileVerificationError):
    """A failed code check in the API's error shape: 400 `invalid` on `code`, 429 `throttled`
    with Retry-After, 409 `mobile_limit_reached`."""
    if isinstance(error, TooManyTries):
        return exceptions.Throttled(wait=error.retry_after, detail=str(error.message))
    if isinstance(error, MobileLimitReached):
        return MobileLimitConflict(str(error.message))
    return exceptions.ValidationError({"code": [str(error.message)]})


class MobileLimitConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "mobile_limit_reached"
    default_detail = "This mobile number is verified for as many applicants as it may be."


class VerifyMobileView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="applicants_verify_mobile",
        request=s.VerifyMobileInSerializer,
        responses={
            200: s.MobileVerifiedOutSerializer,
            **errors(
                e400="`invalid`: the code is wrong or expired (`fields.code`); an unknown "
                "application number answers the same.",
                e409="`mobile_limit_reached`: APPLICANTS_PER_MOBILE applicants verified this "
                "mobile already.",
                e429="`throttled`: too many wrong codes (ask for a new one) or too many tries "
                "from this client; see Retry-After.",
            ),
        },
        description="Enter the one-time code sent by SMS at registration (or resent). With "
        "MOBILE_VERIFICATION=off nothing is checked and the answer is the applicant's state.",
        tags=["applicants"],
        auth=[],
    )
    def post(self, request):
        data = s.VerifyMobileInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            applicant = mobile_verify(
                application_number=data.validated_data["application_number"],
                code=data.validated_data["code"],
                client_address=client_address(request),
            )
        except MobileVerificationError as error:
            raise _mobile_error(error) from None
        return Response({"mobile_verified": applicant.mobile_verified})


class VerifyMobileResendView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="applicants_verify_mobile_resend",
        request=None,
        responses={
            202: s.MobileCodeSentOutSerializer,
            200: s.MobileCodeSentOutSerializer,
            **errors(401, 403, e429="`throttled`: codes asked for too often; see Retry-After."),
        },
        description="Applicant: send a new one-time code to the mobile (the earlier ones stop "
        "working). 202 when a code was queued; 200 with `mobile_verified` true and nothing sent "
        "when there is nothing to verify (already verified, or MOBILE_VERIFICATION=off).",
        tags=["applicants"],
    )
    def post(self, request):
        applicant = request.user
        try:
            sent = mobile_code_send(applicant=applicant, client_address=client_address(request))
        except MobileVerificationError as error:
            raise _mobile_error(error) from None
        body = {
            "mobile_verified": applicant.mobile_verified,
            "sent_to": mobile_masked(applicant.mobile),
            "expires_at": sent.expires_at if sent else None,
        }
        body = s.MobileCodeSentOutSerializer(body).data
        return Response(body, status=status.HTTP_202_ACCEPTED if sent else status.HTTP_200_OK)


class ApplicantRecoverView(APIView):
    """ "Forgot application number": 202 with one sentence whatever the match; a match's
    number goes by SMS to the registered mobile only."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="applicants_recover",
        request=s.RecoverInSerializer,
        responses={
            202: s.RecoverOutSerializer,
            **errors(
                400,
                e429="`throttled`: too many requests for this mobile or from this client; "
                "see the Retry-After header.",
            ),
        },
        tags=["applicants"],
        auth=[],
    )
    def post(self, request):
        data = s.RecoverInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempts = RecoveryRequests(request=request, mobile=data.validated_data["mobile"])
        attempts.check()
        attempts.record()  # every request counts, a match or not
        applicant_number_recover(**data.validated_data)
        return Response(
            s.RecoverOutSerializer(
                {"detail": _("If the details match, we have sent the number by SMS.")}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ApplicantMeView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="applicants_me_update",
        request=s.ApplicantPatchSerializer,
        responses={200: s.ApplicantOutSerializer, **errors(400, 401, 403)},
        description="Applicant: record or correct the learner licence's issue date.",
        tags=["applicants"],
    )
    def patch(self, request):
        data = s.ApplicantPatchSerializer(data=request.data, context={"applicant": request.user})
        data.is_valid(raise_exception=True)
        applicant = applicant_learner_licence_set(
            applicant=request.user, issued_on=data.validated_data["learner_licence_issued_on"]
        )
        return Response(s.ApplicantOutSerializer(applicant).data)


# --- Bookings -------------------------------------------------------------------------------


def _acting_user(request):
    """Who a staff action is recorded as; None for the applicant's own action."""
    return None if is_applicant(request.user) else request.user


def _require_staff_perm(request, perm: str) -> None:
    """Staff acting on an applicant's booking need the admin's permission for it too."""
    if not is_applicant(request.user):
        require_perm(request.user, perm)


def _visible_booking(request, reference: str):
    booking = selectors.booking_get_visible(
        reference=reference, user=request.user, is_applicant=is_applicant(request.user)
    )
    if booking is None:
        raise exceptions.NotFound(_("No such booking."))
    return booking


def _render_booking(booking, status_code=status.HTTP_200_OK) -> Response:
    fresh = selectors.booking_get(pk=booking.pk)
    return Response(s.BookingOutSerializer(fresh).data, status=status_code)


class BookingListCreateView(APIView):
    def get_permissions(self):
        return [IsApplicant()] if self.request.method == "POST" else [IsApplicantOrStaff()]

    @extend_schema(
        operation_id="bookings_list",
        parameters=[s.StaffBookingListQuerySerializer],
        responses={200: s.BookingOutSerializer(many=True), **errors(401, 403)},
        description="Applicants: their own bookings, newest first. Staff (extension): the "
        "newest 100 bookings of their offices, optionally of one office.",
        tags=["bookings"],
    )
    def get(self, request):
        if is_applicant(request.user):
            bookings = selectors.booking_list_for_applicant(applicant=request.user)
        else:
            query = s.StaffBookingListQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            bookings = selectors.booking_list_for_staff(
                office_ids=staff_office_ids(request.user),
                office_code=query.validated_data.get("office"),
            )
        return Response(s.BookingOutSerializer(bookings, many=True).data)

    @extend_schema(
        operation_id="bookings_create",
        request=s.BookingInSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Retries with the same key return the first answer.",
            )
        ],
        responses={
            201: s.BookingOutSerializer,
            202: OpenApiResponse(
                s.BallotEntryOutSerializer,
                description="Extension: the day has just opened; the request was entered in "
                "its ballot (one entry per applicant, service and day: asking again returns "
                "it unchanged) and is decided when the ballot closes.",
            ),
            **errors(400, 401, 403, 503, **BOOKING_CONFLICTS),
        },
        tags=["bookings"],
    )
    def post(self, request):
        data = s.BookingInSerializer(data=request.data, context={"applicant": request.user})
        data.is_valid(raise_exception=True)
        slot_id = data.validated_data["slot"]
        issued = data.validated_data.get("learner_licence_issued_on")
        if issued is not None:
            applicant_learner_licence_set(applicant=request.user, issued_on=issued)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise exceptions.ValidationError(
                {"Idempotency-Key": [_("At most %(n)s characters.") % {"n": IDEMPOTENCY_KEY_MAX}]}
            )
        try:
            if not key:
                booking = booking_create(applicant=request.user, slot_id=slot_id)
                # booking_create hands back the booking with its history and messages in hand.
                return Response(
                    s.BookingOutSerializer(booking).data, status=status.HTTP_201_CREATED
                )
            status_code, booking, error = booking_create_idempotent(
                applicant=request.user, slot_id=slot_id, key=key
            )
        except InBallot as entered:
            return _render_ballot_entry(entered.entry)
        if status_code == status.HTTP_202_ACCEPTED:
            return _render_ballot_entry(ballot_entry_get(pk=error["ballot_entry"]))
        if booking is None:
            return Response(error, status=status_code)
        return _render_booking(booking, status_code)


def _render_ballot_entry(entry) -> Response:
    return Response(s.BallotEntryOutSerializer(entry).data, status=status.HTTP_202_ACCEPTED)


class BallotEntryListView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="ballot_list",
        responses={200: s.BallotEntryOutSerializer(many=True), **errors(401, 403)},
        description="Extension: the applicant's requests in the ballots of newly opened days "
        "(from today on), newest first, with each draw's result.",
        tags=["bookings"],
    )
    def get(self, request):
        entries = ballot_entries_for_applicant(applicant=request.user)
        return Response(s.BallotEntryOutSerializer(entries, many=True).data)


class BookingDetailView(APIView):
    permission_classes = [IsApplicantOrStaff]

    @extend_schema(
        operation_id="bookings_retrieve",
        responses={200: s.BookingOutSerializer, **errors(401, 403, 404)},
        tags=["bookings"],
    )
    def get(self, request, reference: str):
        return Response(s.BookingOutSerializer(_visible_booking(request, reference)).data)


class BookingRescheduleView(APIView):
    permission_classes = [IsApplicantOrStaff]

    @extend_schema(
        operation_id="bookings_reschedule",
        request=s.SlotChoiceSerializer,
        responses={
            200: s.BookingOutSerializer,
            **errors(400, 401, 403, 404, 503, **BOOKING_CONFLICTS),
        },
        tags=["bookings"],
    )
    def post(self, request, reference: str):
        _require_staff_perm(request, "slots.change_booking")
        booking = _visible_booking(request, reference)
        data = s.SlotChoiceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = booking_reschedule(
            booking=booking, slot_id=data.validated_data["slot"], acting_user=_acting_user(request)
        )
        return _render_booking(booking)


class BookingCancelView(APIView):
    permission_classes = [IsApplicantOrStaff]

    @extend_schema(
        operation_id="bookings_cancel",
        request=None,
        responses={
            200: s.BookingOutSerializer,
            **errors(401, 403, 404, 503, e409="`booking_not_active`."),
        },
        tags=["bookings"],
    )
    def post(self, request, reference: str):
        _require_staff_perm(request, "slots.change_booking")
        booking = booking_cancel(
            booking=_visible_booking(request, reference), acting_user=_acting_user(request)
        )
        return _render_booking(booking)


class BookingCheckInView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="bookings_check_in",
        request=None,
        responses={
            200: s.BookingOutSerializer,
            **errors(
                401,
                403,
                404,
                e409="`booking_not_active`: only a confirmed booking; `check_in_not_today`: "
                "only on the appointment's day, from CHECK_IN_EARLY_MINUTES before its time.",
            ),
        },
        description="Staff of the booking's office. A booking of another office is not found.",
        tags=["staff"],
    )
    def post(self, request, reference: str):
        require_perm(request.user, "slots.change_booking")
        booking = booking_check_in(
            booking=_visible_booking(request, reference), acting_user=request.user
        )
        return _render_booking(booking)


# --- Outages --------------------------------------------------------------------------------


# --- Waiting list and offers (applicants) ------------------------------------------------------


def _own_entry(request, pk: int):
    from slots.models import WaitlistEntry

    entry = (
        WaitlistEntry.objects.select_related("office", "service")
        .filter(pk=pk, applicant=request.user)
        .first()
    )
    if entry is None:  # someone else's entry is no entry of yours: never say it exists
        raise exceptions.NotFound(_("No such waiting-list entry."))
    return entry


def _own_offer(request, pk: int):
    from slots.models import Offer

    offer = Offer.objects.filter(pk=pk, applicant=request.user).first()
    if offer is None:
        raise exceptions.NotFound(_("No such offer."))
    return offer


class WaitlistListCreateView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="waitlist_list",
        responses={200: s.WaitlistOutSerializer(many=True), **errors(401, 403)},
        description="The applicant's own waiting-list entries, newest first.",
        tags=["waiting list"],
    )
    def get(self, request):
        entries = waitlist_entries_for_applicant(applicant=request.user)
        return Response(s.WaitlistOutSerializer(entries, many=True).data)

    @extend_schema(
        operation_id="waitlist_join",
        request=s.WaitlistInSerializer,
        responses={
            201: s.WaitlistOutSerializer,
            **errors(
                400,
                401,
                403,
                e409="`already_waiting` (an open entry for the service), `already_booked` "
                "(an active booking for the service).",
            ),
        },
        tags=["waiting list"],
    )
    def post(self, request):
        data = s.WaitlistInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = waitlist_join(
            applicant=request.user,
            office=data.validated_data["office"],
            service=data.validated_data["service"],
            date_from=data.validated_data["from"],
            date_to=data.validated_data["to"],
        )
        entry.position = waitlist_position(entry=entry)
        return Response(s.WaitlistOutSerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistDetailView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="waitlist_leave",
        responses={204: None, **errors(401, 403, 404)},
        description="Leave the waiting list (an open offer of the entry is given up).",
        tags=["waiting list"],
    )
    def delete(self, request, id: int):
        waitlist_leave(entry=_own_entry(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OfferListView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="offers_list",
        responses={200: s.OfferOutSerializer(many=True), **errors(401, 403)},
        description="The applicant's own offers, newest first.",
        tags=["waiting list"],
    )
    def get(self, request):
        return Response(
            s.OfferOutSerializer(offers_for_applicant(applicant=request.user), many=True).data
        )


class OfferAcceptView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="offers_accept",
        request=None,
        responses={
            201: s.BookingOutSerializer,
            **errors(
                401,
                403,
                404,
                503,
                e409="`offer_expired` (expired or already answered), `already_booked`, "
                "`slot_unavailable`, `mobile_not_verified`, `outside_licence_window`, "
                "`learner_licence_required`.",
            ),
        },
        tags=["waiting list"],
    )
    def post(self, request, id: int):
        booking = offer_accept(offer=_own_offer(request, id), applicant=request.user)
        return _render_booking(booking, status.HTTP_201_CREATED)


class OfferDeclineView(APIView):
    permission_classes = [IsApplicant]

    @extend_schema(
        operation_id="offers_decline",
        request=None,
        responses={
            200: s.OfferOutSerializer,
            **errors(401, 403, 404, e409="`offer_expired` (expired or already answered)."),
        },
        tags=["waiting list"],
    )
    def post(self, request, id: int):
        offer = offer_decline(offer=_own_offer(request, id), applicant=request.user)
        fresh = offers_for_applicant(applicant=request.user)
        return Response(s.OfferOutSerializer(next(o for o in fresh if o.pk == offer.pk)).data)


def _outage_or_404(pk: int):
    outage = selectors.outage_get(pk=pk)
    if outage is None:
        raise exceptions.NotFound(_("No such outage."))
    return outage


def _render_outage(outage, status_code=status.HTTP_200_OK) -> Response:
    return Response(
        s.OutageOutSerializer(selectors.outage_get(pk=outage.pk)).data, status=status_code
    )


class OutageListCreateView(APIView):
    def get_permissions(self):
        return [IsStaff()] if self.request.method == "POST" else [AllowAny()]

    @extend_schema(
        operation_id="outages_list",
        parameters=[s.OutageListQuerySerializer],
        responses={200: s.OutageOutSerializer(many=True), **errors(400)},
        tags=["outages"],
    )
    def get(self, request):
        query = s.OutageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        outages = selectors.outage_list(
            office_code=query.validated_data.get("office"),
            active=query.validated_data.get("active"),
            before=query.validated_data.get("before"),
        )
        return Response(s.OutageOutSerializer(outages, many=True).data)

    @extend_schema(
        operation_id="outages_create",
        request=s.OutageInSerializer,
        responses={201: s.OutageOutSerializer, **errors(400, 401, 403)},
        description="Staff. Rescheduling of the affected bookings starts by itself.",
        tags=["staff"],
    )
    def post(self, request):
        require_perm(request.user, "slots.add_outage")
        data = s.OutageInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        require_offices(request.user, [office.pk for office in values["offices"]])
        services = values.get("services") or []
        # `reason_hi` is optional: without it Hindi pages and SMS get a standard Hindi phrase,
        # never the English reason.
        reason_hi = values.get("reason_hi", "").strip() or outage_reason_hi_default(
            reason=values["reason"], service_slugs=[service.slug for service in services]
        )
        outage = outage_create(
            offices=values["offices"],
            services=services,
            expected_end=values["expected_end"],
            starts_at=values.get("starts_at"),
            reason=values["reason"],
            reason_hi=reason_hi,
            capacity_percent=values["capacity_percent"],
            acting_user=request.user,
        )
        return _render_outage(outage, status.HTTP_201_CREATED)


class OutageDetailView(APIView):
    def get_permissions(self):
        return [IsStaff()] if self.request.method == "PATCH" else [AllowAny()]

    @extend_schema(
        operation_id="outages_retrieve",
        responses={200: s.OutageOutSerializer, **errors(404)},
        tags=["outages"],
    )
    def get(self, request, id: int):
        return Response(s.OutageOutSerializer(_outage_or_404(id)).data)

    @extend_schema(
        operation_id="outages_extend",
        request=s.OutageExtendSerializer,
        responses={200: s.OutageOutSerializer, **errors(400, 401, 403, 404)},
        description="Staff of every office of the outage. Extending moves the newly covered "
        "bookings.",
        tags=["staff"],
    )
    def patch(self, request, id: int):
        require_perm(request.user, "slots.change_outage")
        outage = _outage_or_404(id)
        require_offices(request.user, [office.pk for office in outage.offices.all()])
        data = s.OutageExtendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outage = outage_extend(
            outage=outage,
            expected_end=data.validated_data["expected_end"],
            acting_user=request.user,
        )
        return _render_outage(outage)


class OutageResolveView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="outages_resolve",
        request=None,
        responses={200: s.OutageOutSerializer, **errors(401, 403, 404)},
        description="Staff of every office of the outage. Ends it now; resolving twice is "
        "harmless.",
        tags=["staff"],
    )
    def post(self, request, id: int):
        require_perm(request.user, "slots.change_outage")
        outage = _outage_or_404(id)
        require_offices(request.user, [office.pk for office in outage.offices.all()])
        return _render_outage(outage_resolve(outage=outage, acting_user=request.user))


class OutagePreviewView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="outages_preview",
        parameters=[s.OutagePreviewQuerySerializer],
        responses={200: s.OutagePreviewSerializer, **errors(400, 401, 403)},
        description="Staff (extension): a dry run of an outage: how many bookings would move.",
        tags=["staff"],
    )
    def get(self, request):
        require_perm(request.user, "slots.add_outage")
        query = s.OutagePreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        require_offices(request.user, [office.pk for office in values["offices"]])
        preview = outage_preview(
            offices=values["offices"],
            services=values.get("services") or [],
            expected_end=values.get("expected_end"),
            starts_at=values.get("starts_at"),
            capacity_percent=values["capacity_percent"],
        )
        return Response(s.OutagePreviewSerializer(preview).data)


class NotFoundView(APIView):
    """Any other path under /api/: the error shape, not Django's HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(_("There is nothing at this address."))
