"""The admin's banner of open outage proposals: `{% outage_proposal_banner %}` on the index and
the outages list shows a clerk the proposals of their offices, each with a Confirm button (a
plain POST form: no JavaScript needed)."""

from __future__ import annotations

from django import template

from monitoring.admin import services_text
from monitoring.selectors import proposal_list_open
from rto_booking.admin_scoping import clerk_office_ids

register = template.Library()


@register.inclusion_tag("admin/monitoring/proposal_banner.html", takes_context=True)
def outage_proposal_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.has_perm("monitoring.change_outageproposal"):
        return {"proposals": []}
    proposals = proposal_list_open(office_ids=clerk_office_ids(request))
    return {
        "proposals": [{"proposal": p, "services": services_text(p)} for p in proposals],
        "csrf_token": context.get("csrf_token"),
    }
