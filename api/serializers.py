"""Input and output serializers of API v1. Input ones only parse; rules live in the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applicants.models import Applicant
from applicants.validators import (
    normalise_indian_mobile,
    validate_applicant_age,
    validate_learner_licence_issued_on,
)
from rto_booking import bounds
from slots.models import Booking, BookingEvent, Office, Outage, Service

MAX_ID = 2**63 - 1
AVAILABILITY_MAX_DAYS = 62
AVAILABILITY_DEFAULT_DAYS = 14


# Dates and times the service works with (rto_booking.bounds, shared with the forms).
EARLIEST, LATEST = bounds.EARLIEST, bounds.LATEST


class BoundedDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST <= day < LATEST:
            raise serializers.ValidationError(_("Enter a date from 2000 to 2099."))
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not EARLIEST <= timezone.localtime(moment).date() < LATEST:
            raise serializers.ValidationError(_("Enter a time from 2000 to 2099."))
        return moment


def _django_errors(error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(list(error.messages))


# --- Offices and availability ---------------------------------------------------------------


class ServiceOutSerializer(serializers.Serializer):
    code = serializers.CharField(source="slug")
    name = serializers.CharField()
    name_hi = serializers.CharField()
    slot_minutes = serializers.IntegerField()


class OfficeOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_hi = serializers.CharField()
    district = serializers.CharField()
    services = ServiceOutSerializer(source="active_services", many=True)


class AvailabilityQuerySerializer(serializers.Serializer):
    service = serializers.SlugField(max_length=40, help_text="Service slug, e.g. learner-test.")
    # "from" is a Python keyword: the field is declared under it in __init__ below.
    to = BoundedDateField(required=False, help_text="Last day (default: from + 13 days).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = BoundedDateField(
            required=False, help_text="First day (default: today)."
        )

    def validate(self, attrs):
        date_from = attrs.get("from") or timezone.localdate()
        date_to = attrs.get("to") or date_from + timedelta(days=AVAILABILITY_DEFAULT_DAYS - 1)
        if date_to < date_from:
            raise serializers.ValidationError({"to": [_("Must not be before from.")]})
        if (date_to - date_from).days + 1 > AVAILABILITY_MAX_DAYS:
            raise serializers.ValidationError(
                {"to": [_("At most %(days)s days at once.") % {"days": AVAILABILITY_MAX_DAYS}]}
            )
        attrs["from"], attrs["to"] = date_from, date_to
        return attrs


class SlotAvailabilitySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="slot.id")
    starts_at = serializers.DateTimeField(source="slot.starts_at")
    ends_at = serializers.DateTimeField(source="slot.ends_at")
    capacity = serializers.IntegerField(source="slot.capacity")
    available = serializers.IntegerField(help_text="Seats a new applicant can book now.")


class DayAvailabilitySerializer(serializers.Serializer):
    date = serializers.DateField()
    status = serializers.ChoiceField(choices=["open", "full", "closed", "outage"])
    reason = serializers.CharField(allow_blank=True)
    slots = SlotAvailabilitySerializer(many=True)
    ballot_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Extension: the day has just opened and its requests until then are drawn "
        "by lot (a booking request answers 202 with its ballot entry); null otherwise.",
    )


class AvailabilitySerializer(serializers.Serializer):
    office = serializers.CharField()
    service = serializers.CharField()
    days = DayAvailabilitySerializer(many=True)


# --- Applicants and sign-in -----------------------------------------------------------------


class ApplicantInSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=120)
    date_of_birth = serializers.DateField()
    mobile = serializers.CharField(max_length=20, help_text="Indian mobile number.")
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    preferred_language = serializers.ChoiceField(
        choices=Applicant.Language.choices, default=Applicant.Language.ENGLISH
    )
    learner_licence_issued_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Extension: the learner licence's issue date (needed to book a driving test).",
    )

    # The same validators the service runs, here so each message lands on its field.
    def validate(self, attrs):
        issued = attrs.get("learner_licence_issued_on")
        if issued is not None:
            problems = _learner_licence_errors(issued, born=attrs.get("date_of_birth"))
            if problems:
                raise serializers.ValidationError({"learner_licence_issued_on": problems})
        return attrs

    def validate_date_of_birth(self, value):
        try:
            validate_applicant_age(value, today=timezone.localdate())
        except DjangoValidationError as error:
            raise _django_errors(error) from None
        return value

    def validate_mobile(self, value):
        try:
            return normalise_indian_mobile(value)
        except DjangoValidationError as error:
            raise _django_errors(error) from None


class RecoverInSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=20, help_text="The mobile given at registration.")
    date_of_birth = serializers.DateField()

    def validate_mobile(self, value):
        try:
            return normalise_indian_mobile(value)
        except DjangoValidationError as error:
            raise _django_errors(error) from None


class RecoverOutSerializer(serializers.Serializer):
    detail = serializers.CharField(
        help_text="The same sentence whether or not an applicant matched."
    )


class ApplicantOutSerializer(serializers.Serializer):
    application_number = serializers.CharField()
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    mobile = serializers.CharField(help_text="+91XXXXXXXXXX")
    email = serializers.CharField(allow_blank=True)
    preferred_language = serializers.ChoiceField(choices=Applicant.Language.choices)
    learner_licence_issued_on = serializers.DateField(allow_null=True)
    mobile_verified = serializers.BooleanField(
        help_text="The mobile is proved the applicant's by the one-time code sent to it "
        "(POST /api/v1/applicants/verify-mobile/). With MOBILE_VERIFICATION on, booking needs it."
    )


class VerifyMobileInSerializer(serializers.Serializer):
    application_number = serializers.CharField(max_length=20)
    code = serializers.CharField(max_length=12, help_text="The 6-digit code sent by SMS.")


class MobileVerifiedOutSerializer(serializers.Serializer):
    mobile_verified = serializers.BooleanField()


class MobileCodeSentOutSerializer(serializers.Serializer):
    mobile_verified = serializers.BooleanField()
    sent_to = serializers.CharField(help_text="The mobile, masked: +91 98xxxxxx12.")
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the new code stops working (null: none was sent)."
    )


class ApplicantPatchSerializer(serializers.Serializer):
    learner_licence_issued_on = serializers.DateField(
        help_text="The learner licence's issue date (a driving test is booked with it)."
    )

    def validate_learner_licence_issued_on(self, value):
        applicant = self.context.get("applicant")
        problems = _learner_licence_errors(value, born=getattr(applicant, "date_of_birth", None))
        if problems:
            raise serializers.ValidationError(problems)
        return value


def _learner_licence_errors(issued, *, born) -> list[str]:
    try:
        validate_learner_licence_issued_on(issued, born=born, today=timezone.localdate())
    except DjangoValidationError as error:
        return list(error.messages)
    return []


class SignInSerializer(serializers.Serializer):
    application_number = serializers.CharField(max_length=20)
    date_of_birth = serializers.DateField()


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


# --- Bookings -------------------------------------------------------------------------------


class SlotChoiceSerializer(serializers.Serializer):
    slot = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="A slot id.")


class BookingInSerializer(SlotChoiceSerializer):
    learner_licence_issued_on = serializers.DateField(
        required=False,
        help_text="Extension: the learner licence's issue date, recorded on the applicant "
        "before booking; a driving test cannot be booked without one on record.",
    )

    def validate_learner_licence_issued_on(self, value):
        # context["applicant"]: who books (their date of birth bounds the licence's date).
        applicant = self.context.get("applicant")
        problems = _learner_licence_errors(value, born=getattr(applicant, "date_of_birth", None))
        if problems:
            raise serializers.ValidationError(problems)
        return value


class BookingSlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class BookingEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=BookingEvent.Kind.choices)
    from_starts_at = serializers.DateTimeField(allow_null=True)
    to_starts_at = serializers.DateTimeField(allow_null=True)
    outage = serializers.IntegerField(source="outage_id", allow_null=True)
    # "false alarm" (translated) for the rows of an outage undone as one.
    reason = serializers.CharField(source="display_reason", allow_blank=True)


class BookingNotificationSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=["sms", "email"])
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "sent", "failed", "dead", "superseded"])
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivery = serializers.SerializerMethodField(
        help_text="The gateway's delivery report of an SMS (null: none yet, or an e-mail)."
    )

    def get_delivery(self, row) -> Literal["delivered", "undelivered", "expired"] | None:
        # A row just written holds the database default's marker, not yet its value ("").
        return row.delivery if row.delivery in ("delivered", "undelivered", "expired") else None


class BookingOutSerializer(serializers.Serializer):
    """A booking as the API shows it. Its history and messages are read from `history_rows` and
    `notification_rows`: prefetched by api.selectors.booking_queryset, or put in hand by the
    service that has just written them (so a new booking's answer reads nothing back)."""

    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=Booking.Status.choices)
    office = serializers.CharField(source="office.code")
    service = serializers.CharField(source="service.slug")
    slot = BookingSlotSerializer()
    priority = serializers.BooleanField(help_text="Moved by an outage: served first.")
    created_at = serializers.DateTimeField()
    # Addition ("confirm or release"): when the applicant answered the reminder "I'll come".
    confirmed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the applicant confirmed they will come (the reminder's \"I'll come\"); "
        "null: not confirmed.",
    )
    history = BookingEventSerializer(source="history_rows", many=True)
    notifications = BookingNotificationSerializer(source="notification_rows", many=True)


class StaffBookingListQuerySerializer(serializers.Serializer):
    office = serializers.CharField(required=False, max_length=10, help_text="Staff: RTO code.")


# --- Outages --------------------------------------------------------------------------------


class OutageListQuerySerializer(serializers.Serializer):
    office = serializers.CharField(required=False, max_length=10, help_text="RTO code.")
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    before = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Only outages with a smaller id: the next page is `before=` the smallest "
        "id of this one (each page holds the 100 most recently recorded).",
    )


class CodeRelatedField(serializers.SlugRelatedField):
    """SlugRelatedField that refuses what PostgreSQL cannot compare (NUL, lone surrogates)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 100 or not _encodable(data):
            self.fail("invalid")
        return super().to_internal_value(data)


def _encodable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class OutageInSerializer(serializers.Serializer):
    offices = CodeRelatedField(
        slug_field="code", queryset=Office.objects.all(), many=True, allow_empty=False
    )
    services = CodeRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False
    )
    starts_at = BoundedDateTimeField(required=False, help_text="Default: now.")
    expected_end = BoundedDateTimeField(
        allow_null=True, help_text="null: until further notice (open-ended; bookings are held)."
    )
    capacity_percent = serializers.IntegerField(
        min_value=0,
        max_value=99,
        default=0,
        help_text="0: the service is down. 1–99: it runs at that share of each slot's seats.",
    )
    reason = serializers.CharField(max_length=300)
    reason_hi = serializers.CharField(max_length=300, required=False, allow_blank=True)


class OutageExtendSerializer(serializers.Serializer):
    expected_end = BoundedDateTimeField(
        allow_null=True,
        help_text="A time gives an open-ended outage its end (its held bookings are placed); "
        "null makes the outage open-ended.",
    )


class OutagePreviewQuerySerializer(serializers.Serializer):
    offices = serializers.CharField(max_length=500, help_text="RTO codes, comma-separated.")
    services = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Slugs, comma-separated."
    )
    starts_at = BoundedDateTimeField(required=False)
    expected_end = BoundedDateTimeField(
        required=False, help_text="Absent: until further notice (how many would be held)."
    )
    capacity_percent = serializers.IntegerField(
        min_value=0,
        max_value=99,
        default=0,
        help_text="A partial outage: only the bookings over each slot's share are counted.",
    )

    def _resolve(self, value: str, queryset, field: str):
        wanted = [part.strip() for part in value.split(",") if part.strip()]
        found = {getattr(obj, field): obj for obj in queryset.filter(**{f"{field}__in": wanted})}
        missing = [name for name in wanted if name not in found]
        if missing:
            raise serializers.ValidationError(
                [_("Unknown: %(names)s.") % {"names": ", ".join(missing)}]
            )
        return [found[name] for name in dict.fromkeys(wanted)]

    def validate_offices(self, value):
        offices = self._resolve(value, Office.objects.all(), "code")
        if not offices:
            raise serializers.ValidationError([_("Name at least one office.")])
        return offices

    def validate_services(self, value):
        return self._resolve(value or "", Service.objects.all(), "slug")


class RescheduleProgressSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Outage.State.choices)
    affected = serializers.IntegerField()
    moved = serializers.IntegerField()
    needs_new_slot = serializers.IntegerField()
    on_hold = serializers.IntegerField()
    notified = serializers.IntegerField()


class OutageOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    offices = serializers.SerializerMethodField()
    services = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField()
    expected_end = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    reason_hi = serializers.CharField(allow_blank=True)
    capacity_percent = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    reschedule = RescheduleProgressSerializer(source="*")
    created_at = serializers.DateTimeField()

    def get_offices(self, outage) -> list[str]:
        return [office.code for office in outage.offices.all()]

    def get_services(self, outage) -> list[str]:
        return [service.slug for service in outage.services.all()]

    @extend_schema_field(serializers.ChoiceField(choices=["active", "resolved"]))
    def get_status(self, outage) -> str:
        return "active" if outage.resolved_at is None else "resolved"


class ProposedSessionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["longer_hours", "saturday"])
    date = serializers.DateField()
    start_time = serializers.TimeField(format="%H:%M")
    end_time = serializers.TimeField(format="%H:%M")
    seats = serializers.IntegerField()


class RecoverySerializer(serializers.Serializer):
    """Recovery capacity (extension): served by `target` = end + RECOVERY_TARGET_DAYS?"""

    target = serializers.DateTimeField()
    last_served = serializers.DateTimeField(allow_null=True)
    late = serializers.IntegerField(help_text="Served after the target.")
    unserved = serializers.IntegerField(help_text="No seat in the slots generated so far.")
    sessions = ProposedSessionSerializer(many=True, help_text="Proposed extra sessions.")
    last_served_with = serializers.DateTimeField(allow_null=True)
    late_with = serializers.IntegerField()
    unserved_with = serializers.IntegerField()


class PreviewRowSerializer(serializers.Serializer):
    office = serializers.CharField()
    service = serializers.CharField()
    affected = serializers.IntegerField()
    would_move = serializers.IntegerField()
    needs_new_slot = serializers.IntegerField()
    on_hold = serializers.IntegerField()
    first_new = serializers.DateTimeField(allow_null=True)
    last_new = serializers.DateTimeField(allow_null=True)
    recovery = RecoverySerializer(
        allow_null=True, help_text="Known end: when the last moved booking is served."
    )


class OutagePreviewSerializer(serializers.Serializer):
    affected = serializers.IntegerField()
    would_move = serializers.IntegerField()
    needs_new_slot = serializers.IntegerField()
    on_hold = serializers.IntegerField()
    first_new = serializers.DateTimeField(allow_null=True)
    last_new = serializers.DateTimeField(allow_null=True)
    rows = PreviewRowSerializer(many=True)


class WaitlistInSerializer(serializers.Serializer):
    """`{"office", "service", "from", "to"}` (`from` is a Python keyword: see get_fields)."""

    office = CodeRelatedField(slug_field="code", queryset=Office.objects.filter(is_active=True))
    service = CodeRelatedField(slug_field="slug", queryset=Service.objects.all())

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = BoundedDateField(help_text="First day that would do (YYYY-MM-DD).")
        fields["to"] = BoundedDateField(help_text="Last day that would do (YYYY-MM-DD).")
        return fields

    def validate(self, attrs):
        if attrs["to"] < attrs["from"]:
            raise serializers.ValidationError(
                {"to": [_("The last day must not be before the first day.")]}
            )
        return attrs


class WaitlistOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    office = serializers.CharField(source="office.code")
    service = serializers.CharField(source="service.slug")
    state = serializers.ChoiceField(choices=["waiting", "offered", "booked", "expired", "left"])
    position = serializers.IntegerField(
        allow_null=True, help_text="1: next to be offered a seat; null unless waiting."
    )
    created_at = serializers.DateTimeField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(source="date_from")
        fields["to"] = serializers.DateField(source="date_to")
        return fields


class OfferOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    office = serializers.CharField(source="slot.office.code")
    service = serializers.CharField(source="slot.service.slug")
    slot = BookingSlotSerializer()
    expires_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=["open", "accepted", "declined", "expired"])


class BallotEntryOutSerializer(serializers.Serializer):
    """A request entered in a newly opened day's ballot (202 from `POST /bookings/`)."""

    id = serializers.IntegerField()
    office = serializers.CharField(source="office.code")
    service = serializers.CharField(source="service.slug")
    day = serializers.DateField()
    slot = BookingSlotSerializer(help_text="The time asked for.")
    closes_at = serializers.DateTimeField(help_text="When the ballot closes and is drawn.")
    state = serializers.ChoiceField(
        choices=["pending", "won", "lost", "void"],
        help_text="pending until the draw; won: `booking` is the seat; lost: on the day's "
        "waiting list (`waitlist`) unless already on one; void: could no longer book.",
    )
    booking = serializers.CharField(source="booking.reference", allow_null=True, default=None)
    waitlist = serializers.IntegerField(source="waitlist_entry_id", allow_null=True)
    created_at = serializers.DateTimeField()
