"""SMS delivery reports: `POST /api/v1/sms/delivery/` (docs/API.md, "SMS gateways").

`Authorization: Bearer <SMS_DLR_TOKEN>` (constant-time; with the setting unset every call is
401), body `{"id": <the gateway's id>, "status": "delivered"|"undelivered"|"expired"}` → 204;
an id no SMS has → 404; anything else → 400 with the error shape. An undelivered or expired
SMS falls back to e-mail (slots.messages.sms_delivery_report).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
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
