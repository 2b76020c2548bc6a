"""Reads of outage proposals. Keyword-only; no writes here."""

from __future__ import annotations

from django.db.models import QuerySet

from monitoring.models import OutageProposal

LIST_LIMIT = 500


def proposal_queryset() -> QuerySet[OutageProposal]:
    return OutageProposal.objects.select_related("office").prefetch_related("services")


def proposal_list_for_staff(
    *, office_ids: set[int] | frozenset[int] | None, limit: int = LIST_LIMIT
) -> list[OutageProposal]:
    """The newest proposals of the offices a staff member may act on (None: every office)."""
    proposals = proposal_queryset().order_by("-created_at", "-id")
    if office_ids is not None:
        proposals = proposals.filter(office_id__in=office_ids)
    return list(proposals[:limit])


def proposal_list_open(
    *, office_ids: set[int] | frozenset[int] | None, limit: int = 20
) -> list[OutageProposal]:
    """Open proposals of those offices, oldest first (the admin's banner)."""
    proposals = proposal_queryset().filter(state=OutageProposal.State.OPEN)
    if office_ids is not None:
        proposals = proposals.filter(office_id__in=office_ids)
    return list(proposals.order_by("created_at", "id")[:limit])


def proposal_get(*, pk: int) -> OutageProposal | None:
    return proposal_queryset().filter(pk=pk).first()
