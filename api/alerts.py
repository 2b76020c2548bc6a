"""Outages proposed by monitoring: Alertmanager's webhook and the clerks' proposals.

`POST /api/v1/alerts/` takes Alertmanager's webhook (version 4) with
`Authorization: Bearer <ALERT_WEBHOOK_TOKEN>`; `GET /api/v1/outage-proposals/` and
`POST /api/v1/outage-proposals/{id}/confirm/` are for staff, scoped to their offices. The rules
are monitoring.services'; here the body is checked (never a 500 on bad input) and rendered.
"""

from __future__ import annotations

import hashlib
import json

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import selectors as api_selectors
from api.authentication import ServiceCaller, SharedSecretAuthentication
from api.errors import NON_FIELD
from api.permissions import IsStaff, _Role, require_offices, require_perm, staff_office_ids
from api.serializers import BoundedDateTimeField, OutageOutSerializer, _encodable
from api.views import errors
from monitoring import selectors
from monitoring.services import (
    DEFAULT_REASON,
    DEFAULT_REASON_HI,
    FIRING,
    RESOLVED,
    Alert,
    alerts_receive,
    proposal_confirm,
)
from slots.models import Office, Service

# Alertmanager groups alerts (its default group_limit is unlimited); a call naming more than
# this is refused rather than held open for minutes.
MAX_ALERTS = 1000
MAX_LABELS = 100
REASON_MAX = 300


# --- Who may call the webhook ---------------------------------------------------------------


class AlertSender(ServiceCaller):
    """The caller of the alert webhook: whoever holds ALERT_WEBHOOK_TOKEN (Alertmanager)."""

    pk = "alertmanager"


class AlertWebhookAuthentication(SharedSecretAuthentication):
    """`Authorization: Bearer <ALERT_WEBHOOK_TOKEN>`, compared in constant time. With the
    setting unset no token matches: every call is 401."""

    setting = "ALERT_WEBHOOK_TOKEN"
    caller = AlertSender
    wrong_token = gettext_lazy("Wrong or missing alert webhook token.")


class IsAlertSender(_Role):
    message = gettext_lazy("Only monitoring can send alerts.")

    def allowed(self, user) -> bool:
        return isinstance(user, AlertSender)


class AlertWebhookTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.alerts.AlertWebhookAuthentication"
    name = "alertWebhookToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The shared secret ALERT_WEBHOOK_TOKEN (Alertmanager's "
            "http_config.authorization.credentials).",
        }


# --- The webhook body -------------------------------------------------------------------------


class TextField(serializers.CharField):
    """A JSON string (not a number or a list) that PostgreSQL can store (no NUL, no lone
    surrogate)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if not _encodable(data):
            raise serializers.ValidationError(_("Contains characters that cannot be stored."))
        return super().to_internal_value(data)


class LabelsField(serializers.DictField):
    """Prometheus labels or annotations: a JSON object of strings."""

    def __init__(self, *, value_max: int, **kwargs):
        super().__init__(child=TextField(allow_blank=True, max_length=value_max), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            if len(data) > MAX_LABELS:
                raise serializers.ValidationError(_("At most %(n)s entries.") % {"n": MAX_LABELS})
            for key in data:
                if not (isinstance(key, str) and 0 < len(key) <= 200 and _encodable(key)):
                    raise serializers.ValidationError(_("Names must be short plain text."))
        return super().to_internal_value(data)


class AlertInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[FIRING, RESOLVED])
    labels = LabelsField(
        value_max=2000, help_text='Needs "office" (RTO code); "service" (slug) is optional.'
    )
    annotations = LabelsField(
        value_max=10000, required=False, help_text='"summary" becomes the reason.'
    )

    # Alertmanager's own names ("from" in availability is declared the same way).
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["startsAt"] = BoundedDateTimeField(required=False, allow_null=True)
        self.fields["fingerprint"] = TextField(
            required=False,
            allow_blank=True,
            max_length=200,
            help_text="Absent: derived from the labels, as Alertmanager does.",
        )


class AlertWebhookSerializer(serializers.Serializer):
    """Alertmanager's webhook body, version 4. Unknown keys (`endsAt`, `generatorURL`,
    `groupLabels`, …) are ignored."""

    version = TextField(required=False, max_length=10)
    status = serializers.ChoiceField(choices=[FIRING, RESOLVED], required=False)
    receiver = TextField(required=False, allow_blank=True, max_length=200)
    alerts = serializers.ListField(child=AlertInSerializer(), max_length=MAX_ALERTS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groupKey"] = TextField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs):
        alerts = attrs["alerts"]
        codes = {_label(a, "office").upper() for a in alerts}
        slugs = {_label(a, "service") for a in alerts} - {""}
        offices = {o.code: o for o in Office.objects.filter(code__in=codes - {""})}
        services = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
        problems: dict[str, list[str]] = {}
        checked = []
        for index, alert in enumerate(alerts):
            code, slug = _label(alert, "office").upper(), _label(alert, "service")
            where = f"alerts.{index}.labels"
            if not code:
                problems[f"{where}.office"] = [_("An alert needs the label office (RTO code).")]
            elif code not in offices:
                problems[f"{where}.office"] = [_("Unknown office: %(code)s.") % {"code": code}]
            # An empty label is no label (Prometheus): every service of the office.
            if slug and slug not in services:
                problems[f"{where}.service"] = [_("Unknown service: %(slug)s.") % {"slug": slug}]
            if problems:
                continue
            checked.append(_alert(alert, offices[code], [services[slug]] if slug else []))
        if problems:
            raise serializers.ValidationError(problems)
        attrs["checked"] = checked
        return attrs


def _label(alert: dict, name: str) -> str:
    return alert["labels"].get(name, "").strip()


def _alert(data: dict, office: Office, services: list[Service]) -> Alert:
    labels = data["labels"]
    annotations = data.get("annotations") or {}
    summary = annotations.get("summary", "").strip()[:REASON_MAX]
    summary_hi = annotations.get("summary_hi", "").strip()[:REASON_MAX]
    return Alert(
        status=data["status"],
        fingerprint=data.get("fingerprint") or _labels_fingerprint(labels),
        office=office,
        services=services,
        reason=summary or DEFAULT_REASON,
        reason_hi=summary_hi or ("" if summary else DEFAULT_REASON_HI),
        starts_at=data.get("startsAt"),
        labels=labels,
    )


def _labels_fingerprint(labels: dict) -> str:
    """Alertmanager sends `fingerprint` (a hash of the label set); without it, the same."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False)
    return "labels:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


# --- Output ----------------------------------------------------------------------------------


class ProposalIdsSerializer(serializers.Serializer):
    proposals = serializers.ListField(child=serializers.IntegerField())


class ProposalOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["declare", "resolve"])
    state = serializers.ChoiceField(choices=["open", "confirmed", "withdrawn"])
    office = serializers.CharField(source="office.code")
    services = serializers.SerializerMethodField()
    reason = serializers.CharField()
    outage = serializers.IntegerField(source="outage_id", allow_null=True)
    created_at = serializers.DateTimeField()

    def get_services(self, proposal) -> list[str]:
        return sorted(service.slug for service in proposal.services.all())


class ProposalConfirmedSerializer(serializers.Serializer):
    proposal = ProposalOutSerializer()
    outage = OutageOutSerializer()


# --- Views -------------------------------------------------------------------------------------


class AlertWebhookView(APIView):
    authentication_classes = [AlertWebhookAuthentication]
    permission_classes = [IsAlertSender]

    @extend_schema(
        operation_id="alerts_receive",
        request=AlertWebhookSerializer,
        responses={202: ProposalIdsSerializer, **errors(400, 401, 503)},
        description="Alertmanager's webhook (version 4). A firing alert proposes an "
        "open-ended outage of its office (label `office`) and service (label `service`; "
        "absent: every service); a resolved one withdraws it, or proposes to resolve the "
        "outage it became. With OUTAGE_AUTO_DECLARE=true they take effect at once.",
        tags=["monitoring"],
    )
    def post(self, request):
        try:
            body = request.data
        except exceptions.ParseError as error:
            raise exceptions.ValidationError({NON_FIELD: [str(error.detail)]}) from None
        data = AlertWebhookSerializer(data=body)
        data.is_valid(raise_exception=True)
        ids = alerts_receive(alerts=data.validated_data["checked"])
        return Response({"proposals": ids}, status=status.HTTP_202_ACCEPTED)


class ProposalListView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="outage_proposals_list",
        responses={200: ProposalOutSerializer(many=True), **errors(401, 403)},
        description="Staff: the newest 500 proposals of their offices (a superuser's: all).",
        tags=["staff"],
    )
    def get(self, request):
        proposals = selectors.proposal_list_for_staff(office_ids=staff_office_ids(request.user))
        return Response(ProposalOutSerializer(proposals, many=True).data)


class ProposalConfirmView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="outage_proposals_confirm",
        request=None,
        responses={
            200: ProposalConfirmedSerializer,
            **errors(
                401,
                403,
                404,
                503,
                e409="`proposal_not_open`: already confirmed or withdrawn.",
            ),
        },
        description="Staff of the proposal's office. Declares its open-ended outage (or "
        "resolves the outage it names); the outage is the one created or resolved.",
        tags=["staff"],
    )
    def post(self, request, id: int):
        # Confirming declares (or resolves) an outage: the admin's outage permissions.
        require_perm(request.user, "slots.add_outage")
        require_perm(request.user, "slots.change_outage")
        proposal = selectors.proposal_get(pk=id)
        if proposal is None:
            raise exceptions.NotFound(_("No such proposal."))
        require_offices(request.user, [proposal.office_id])
        proposal = proposal_confirm(proposal=proposal, acting_user=request.user)
        body = {
            "proposal": selectors.proposal_get(pk=proposal.pk),
            "outage": api_selectors.outage_get(pk=proposal.outage_id),
        }
        return Response(ProposalConfirmedSerializer(body).data)
