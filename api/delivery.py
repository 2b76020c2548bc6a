"""SMS delivery reports: `POST /api/v1/sms/delivery/` (docs/API.md, "SMS gateways").

`Authorization: Bearer <SMS_DLR_TOKEN>` (constant-time; with the setting unset every call is
401), body `{"id": <the gateway's id>, "status": "delivered"|"undelivered"|"expired"}` → 204;
an id no SMS has → 404; anything else → 400 with the error shape. An undelivered or expired
SMS falls back to e-mail (slots.messages.sms_delivery_report).

Gateways that push reports in their own format, and cannot send our header, have an endpoint
each taking that format, with the same token as a `token` query parameter (the callback URL
configured at the gateway carries it): `/api/v1/sms/delivery/gupshup/`. A gateway whose
reports are a pull API (C-DAC's MSDG) is asked instead (slots.messages.sms_delivery_poll).
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.alerts import TextField
from api.authentication import ServiceCaller, SharedSecretAuthentication
from api.errors import NON_FIELD
from api.permissions import _Role
from api.views import errors
from notifications.models import Notification
from slots.messages import sms_delivery_report


class SmsGateway(ServiceCaller):
    """The caller of the delivery webhook: whoever holds SMS_DLR_TOKEN (the gateway)."""

    pk = "sms-gateway"


class DeliveryReportAuthentication(SharedSecretAuthentication):
    """`Authorization: Bearer <SMS_DLR_TOKEN>`, compared in constant time."""

    setting = "SMS_DLR_TOKEN"
    caller = SmsGateway
    wrong_token = gettext_lazy("Wrong or missing delivery report token.")


class IsSmsGateway(_Role):
    message = gettext_lazy("Only the SMS gateway can report deliveries.")

    def allowed(self, user) -> bool:
        return isinstance(user, SmsGateway)


class DeliveryReportTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.delivery.DeliveryReportAuthentication"
    name = "smsDeliveryToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The shared secret SMS_DLR_TOKEN, set in the gateway's callback.",
        }


class DeliveryReportSerializer(serializers.Serializer):
    id = TextField(max_length=120, help_text="The id the gateway answered when it took the SMS.")
    status = serializers.ChoiceField(choices=Notification.Delivery.values)


class DeliveryReportView(APIView):
    authentication_classes = [DeliveryReportAuthentication]
    permission_classes = [IsSmsGateway]

    @extend_schema(
        operation_id="sms_delivery_report",
        request=DeliveryReportSerializer,
        responses={204: None, **errors(400, 401, 404)},
        description="A gateway's delivery report for an SMS it accepted. An undelivered or "
        "expired SMS is sent again by e-mail when the applicant has an address and that "
        "message has no e-mail yet.",
        tags=["sms"],
    )
    def post(self, request):
        try:
            body = request.data
        except exceptions.ParseError as error:
            raise exceptions.ValidationError({NON_FIELD: [str(error.detail)]}) from None
        data = DeliveryReportSerializer(data=body)
        data.is_valid(raise_exception=True)
        row = sms_delivery_report(
            provider_id=data.validated_data["id"], delivery=data.validated_data["status"]
        )
        if row is None:
            raise exceptions.NotFound(_("No SMS has this id."))
        return Response(status=status.HTTP_204_NO_CONTENT)


class QueryTokenAuthentication(authentication.BaseAuthentication):
    """`?token=<SMS_DLR_TOKEN>` in the callback URL, compared in constant time: a gateway's own
    callback cannot carry our Authorization header. With the setting unset no token matches."""

    def authenticate(self, request):
        given = request.query_params.get("token")
        if given is None:
            return None  # the permission answers 401 not_authenticated
        expected = str(settings.SMS_DLR_TOKEN or "")
        if not (
            expected
            and given
            and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
        ):
            raise exceptions.AuthenticationFailed(str(DeliveryReportAuthentication.wrong_token))
        return SmsGateway(), None

    def authenticate_header(self, request):
        # Any value makes DRF answer 401 (not 403) to a call without the token.
        return 'Token realm="token query parameter"'


class DeliveryReportQueryTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.delivery.QueryTokenAuthentication"
    name = "smsDeliveryQueryToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "The shared secret SMS_DLR_TOKEN, in the gateway's callback URL.",
        }


# Gupshup Enterprise's real-time delivery report ("Real Time Delivery Reports",
# docs.gupshup.io): a GET of `externalId` (the id SendMessage answered), `deliveredTS`,
# `status`, `cause`, `phoneNo`, `errCode`, `noOfFrags`, `mask`; or, when support sets it up, a
# POST of a JSON array of up to 20 events `{"externalId", "eventType": "DELIVERED"|"FAILED",
# "eventTs", "destAddr", "srcAddr", "cause", "errCode", "channel", "noOfFrags"}` (the docs show
# it as `response=[…]`: the array alone, under a "response" key, or as a form field are taken).
# `status` is SUCCESS, FAILURE (FAIL) or UNKNOWN; `cause` says why (ABSENT_SUBSCRIBER,
# DND_FAIL, …), and SMSCTIMEDOUT / NO_ACK_FROM_OPERATOR are the network giving up: expired.
GUPSHUP_FINAL = {
    "SUCCESS": Notification.Delivery.DELIVERED,
    "DELIVERED": Notification.Delivery.DELIVERED,
    "FAIL": Notification.Delivery.UNDELIVERED,
    "FAILURE": Notification.Delivery.UNDELIVERED,
    "FAILED": Notification.Delivery.UNDELIVERED,
    "UNDELIV": Notification.Delivery.UNDELIVERED,
    "UNDELIVERED": Notification.Delivery.UNDELIVERED,
    "REJECTED": Notification.Delivery.UNDELIVERED,
    "EXPIRED": Notification.Delivery.EXPIRED,
}
GUPSHUP_EXPIRED_CAUSES = ("EXPIRED", "SMSCTIMEDOUT", "NO_ACK_FROM_OPERATOR")
# Not a final word yet: recorded as nothing (the SMS keeps waiting for its report).
GUPSHUP_PENDING = frozenset({"UNKNOWN", "PENDING", "SUBMITTED", "SENT", "ENROUTE"})


def gupshup_delivery(status_value: str, cause: str) -> str | None:
    """Our delivery state for Gupshup's `status` (or `eventType`) and `cause`; None while not
    final. A failure whose cause says the validity ran out is "expired"."""
    state = GUPSHUP_FINAL.get(status_value.strip().upper())
    if state == Notification.Delivery.UNDELIVERED and any(
        word in cause.upper() for word in GUPSHUP_EXPIRED_CAUSES
    ):
        return Notification.Delivery.EXPIRED
    return state


class GupshupStatusField(TextField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value.upper() not in GUPSHUP_FINAL and value.upper() not in GUPSHUP_PENDING:
            raise serializers.ValidationError(_("Not a delivery status this gateway sends."))
        return value


class GupshupReportSerializer(serializers.Serializer):
    """One Gupshup report (GET query, form POST, or one event of a JSON POST); fields it may
    add are ignored."""

    externalId = TextField(max_length=120)  # the gateway's names, kept as it sends them
    status = GupshupStatusField(max_length=30, required=False)
    eventType = GupshupStatusField(max_length=30, required=False)
    cause = TextField(max_length=200, required=False, allow_blank=True, default="")
    errCode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    phoneNo = serializers.CharField(max_length=20, required=False, allow_blank=True)
    deliveredTS = serializers.CharField(max_length=30, required=False, allow_blank=True)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({NON_FIELD: [_("Expected a delivery report.")]})
        # Numbers (errCode 000, eventTs) come as JSON numbers in the POST form.
        data = {k: str(v) if isinstance(v, int | float) else v for k, v in data.items()}
        return super().to_internal_value(data)

    def validate(self, attrs):
        state = attrs.get("status") or attrs.get("eventType")
        if not state:
            # DRF's own message (and translation): one of status or eventType must be there.
            required = self.fields["status"].error_messages["required"]
            raise serializers.ValidationError({"status": [required]})
        attrs["delivery"] = gupshup_delivery(state, attrs.get("cause") or "")
        return attrs


class GupshupDeliveryReportView(APIView):
    """`/api/v1/sms/delivery/gupshup/?token=<SMS_DLR_TOKEN>`: Gupshup's own report format."""

    authentication_classes = [QueryTokenAuthentication]
    permission_classes = [IsSmsGateway]
    # A statewide outage's SMS are reported within minutes, tens of thousands of calls from a
    # few gateway addresses: the per-user rate would refuse most of them. The token is the gate.
    throttle_classes = []

    @staticmethod
    def _record(reports: list[dict]) -> tuple[list[str], list[str]]:
        known, unknown = [], []
        for report in reports:
            if report["delivery"] is None:
                found = Notification.objects.filter(
                    channel=Notification.Channel.SMS, provider_id=report["externalId"]
                ).exists()
            else:
                found = (
                    sms_delivery_report(
                        provider_id=report["externalId"], delivery=report["delivery"]
                    )
                    is not None
                )
            (known if found else unknown).append(report["externalId"])
        return known, unknown

    @extend_schema(
        operation_id="sms_delivery_report_gupshup",
        parameters=[
            OpenApiParameter("externalId", str, description="The id SendMessage answered."),
            OpenApiParameter(
                "status", str, description="SUCCESS, FAIL, … (EXPIRED in `cause`: expired)."
            ),
            OpenApiParameter("cause", str, required=False),
            OpenApiParameter("errCode", str, required=False),
            OpenApiParameter("phoneNo", str, required=False),
            OpenApiParameter("deliveredTS", str, required=False),
        ],
        request=None,
        responses={
            200: inline_serializer(
                "GupshupReportAnswer",
                {"delivery": serializers.CharField(allow_null=True)},
            ),
            **errors(400, 401, 404),
        },
        description="Gupshup Enterprise's real-time delivery report, as its callback sends it "
        "(set the Realtime Delivery URL to this address with ?token=<SMS_DLR_TOKEN>).",
        tags=["sms"],
    )
    def get(self, request):
        report = GupshupReportSerializer(data=request.query_params.dict())
        report.is_valid(raise_exception=True)
        _known, unknown = self._record([report.validated_data])
        if unknown:
            raise exceptions.NotFound(_("No SMS has this id."))
        return Response({"delivery": report.validated_data["delivery"]})

    @extend_schema(
        operation_id="sms_delivery_report_gupshup_post",
        request=inline_serializer(
            "GupshupReportEvents",
            {"externalId": serializers.CharField(), "eventType": serializers.CharField()},
            many=True,
        ),
        responses={
            200: inline_serializer(
                "GupshupReportBatchAnswer",
                {
                    "recorded": serializers.IntegerField(),
                    "unknown": serializers.ListField(child=serializers.CharField()),
                },
            ),
            **errors(400, 401, 404),
        },
        description="Gupshup's POST callback: a JSON array of up to 20 events (one object is "
        "taken too; so is a form POST of the GET's fields). 404 only when no event names a "
        "known SMS; otherwise the unknown ids are listed.",
        tags=["sms"],
    )
    def post(self, request):
        try:
            body = request.data
        except exceptions.ParseError as error:
            raise exceptions.ValidationError({NON_FIELD: [str(error.detail)]}) from None
        if hasattr(body, "dict"):  # a form POST (QueryDict)
            body = body.dict()
            if isinstance(body.get("response"), str):  # `response=<the JSON array>`
                try:
                    body = json.loads(body["response"])
                except ValueError:
                    raise exceptions.ValidationError(
                        {"response": [_("Not a JSON list of events.")]}
                    ) from None
        if isinstance(body, dict) and isinstance(body.get("response"), list):
            body = body["response"]  # `{"response": [events]}`
        events = body if isinstance(body, list) else [body]
        if not events or len(events) > 100:
            raise exceptions.ValidationError({NON_FIELD: [_("Expected 1 to 100 events.")]})
        reports = GupshupReportSerializer(data=events, many=True)
        reports.is_valid(raise_exception=True)
        known, unknown = self._record(reports.validated_data)
        if not known:
            raise exceptions.NotFound(_("No SMS has this id."))
        return Response({"recorded": len(known), "unknown": unknown})
