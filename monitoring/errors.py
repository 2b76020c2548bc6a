"""Errors of the monitoring use cases, with the API's code and status (api.errors renders them)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from slots.errors import BookingError


class ProposalNotOpen(BookingError):
    code = "proposal_not_open"
    status = 409
    default_message = _("This proposal is no longer open: it was confirmed or withdrawn.")
