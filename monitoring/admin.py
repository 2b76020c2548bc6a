"""Outage proposals in the clerk admin: listed and confirmed, scoped to the clerk's offices.

Confirming calls monitoring.services.proposal_confirm (never the model form), from the
proposal's page or from the banner on the admin index and the outages list
(monitoring/templatetags/outage_proposals.py); it lands on the outage's progress page.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.errors import ProposalNotOpen
from monitoring.models import OutageProposal
from monitoring.services import proposal_confirm
from rto_booking.admin_scoping import OfficeListFilter, OfficeScopedAdminMixin
from slots.errors import Busy

FIELDS = [
    "kind",
    "state",
    "office",
    "service_names",
    "reason",
    "reason_hi",
    "outage_link",
    "created_at",
    "alert_starts_at",
    "confirmed_at",
    "confirmed_by_name",
    "withdrawn_at",
    "fingerprint",
    "labels",
]


def services_text(proposal: OutageProposal) -> str:
    names = [service.display_name for service in proposal.services.all()]
    return ", ".join(names) if names else gettext("all services")


@admin.register(OutageProposal)
class OutageProposalAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    office_lookup = "office"
    list_display = [
        "pk",
        "kind",
        "state",
        "office",
        "service_names",
        "reason",
        "outage_link",
        "created_at",
    ]
    list_display_links = ["pk", "kind"]
    list_filter = ["state", "kind", ("office", OfficeListFilter)]
    search_fields = ["reason", "fingerprint"]
    fields = FIELDS
    readonly_fields = FIELDS
    change_form_template = "admin/monitoring/outageproposal/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("office").prefetch_related("services")

    def has_add_permission(self, request):
        return False  # proposals come from monitoring only

    @admin.display(description=_("services"))
    def service_names(self, obj):
        return services_text(obj)

    @admin.display(description=_("outage"))
    def outage_link(self, obj):
        if obj.outage_id is None:
            return "—"
        url = reverse("admin:slots_outage_change", args=[obj.outage_id])
        return format_html('<a href="{}">#{}</a>', url, obj.outage_id)

    @admin.display(description=_("confirmed by"))
    def confirmed_by_name(self, obj):
        if obj.confirmed_at is None:
            return "—"
        return obj.confirmed_by.get_username() if obj.confirmed_by else gettext("system")

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name=f"{info}_confirm",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            return HttpResponseRedirect(request.path)  # read-only: confirming has its own URL
        proposal = self.get_object(request, object_id)
        extra = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "can_confirm": proposal is not None
            and proposal.state == OutageProposal.State.OPEN
            and self.has_change_permission(request, proposal),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def confirm_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        proposal = self.object_for_action(request, object_id, gettext("No such proposal."))
        try:
            proposal = proposal_confirm(proposal=proposal, acting_user=request.user)
        except (ProposalNotOpen, Busy) as error:
            self.message_user(request, str(error.message), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:monitoring_outageproposal_change", args=[proposal.pk])
            )
        if proposal.kind == OutageProposal.Kind.DECLARE:
            message = gettext(
                "Service marked down until further notice at %(office)s: its bookings of the "
                "next hours are being put on hold and their applicants told not to come."
            )
        else:
            message = gettext(
                "Outage resolved at %(office)s: held bookings are being placed and the "
                "applicants told."
            )
        self.message_user(request, message % {"office": proposal.office.code}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:slots_outage_change", args=[proposal.outage_id]))
