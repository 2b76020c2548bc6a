"""Outages proposed by monitoring: what a firing or resolved alert does, and confirming.

An alert is known by its fingerprint (Alertmanager's hash of its labels). Everything done for
one fingerprint — the webhook's firing and resolved calls, a clerk's confirmation — runs under
that fingerprint's transaction lock, so two deliveries of one alert racing each other (or a
clerk) end as if they came one after the other; the partial unique constraint
`proposal_one_live_per_fingerprint` is the database's last word.

Declaring and resolving go through slots.services.outages (`outage_create`,
`outage_resolve`): the outage, its history and its rescheduling are theirs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring.errors import ProposalNotOpen
from monitoring.models import OutageProposal
from rto_booking.locks import ALERT_FINGERPRINT, xact_lock_all
from slots.errors import busy_on_lock_timeout
from slots.models import Office, Outage, Service
from slots.services.outages import outage_create, outage_resolve

FIRING = "firing"
RESOLVED = "resolved"
# Stored as the outage's reason when the alert has no summary (applicants read it).
DEFAULT_REASON = "Reported by monitoring"
DEFAULT_REASON_HI = "निगरानी प्रणाली ने सूचना दी"
# An alert's own start is taken as "down since" only when it is this recent; otherwise the
# outage starts when it is declared.
DOWN_SINCE_MAX_AGE = timedelta(days=1)
LOCK_TIMEOUT_S = 10

Kind = OutageProposal.Kind
State = OutageProposal.State


@dataclass(frozen=True)
class Alert:
    """One alert of an Alertmanager webhook call, checked and resolved to rows."""

    status: str  # FIRING or RESOLVED
    fingerprint: str
    office: Office
    services: list[Service] = field(default_factory=list)  # empty: every service
    reason: str = DEFAULT_REASON
    reason_hi: str = ""
    starts_at: datetime | None = None
    labels: dict = field(default_factory=dict)


def _lock_alert(fingerprint: str) -> None:
    # A hash collision only makes two alerts wait for each other.
    key = zlib.crc32(fingerprint.encode()) & 0x7FFFFFFF
    xact_lock_all(ALERT_FINGERPRINT, [key], timeout_s=LOCK_TIMEOUT_S)


def _live(fingerprint: str):
    return OutageProposal.objects.filter(fingerprint=fingerprint, closed_at__isnull=True)


def _close(proposal: OutageProposal, *, now: datetime, state: str | None = None) -> None:
    changes = {"closed_at": now}
    if state == State.WITHDRAWN:
        changes["withdrawn_at"] = now
    if state:
        changes["state"] = state
    OutageProposal.objects.filter(pk=proposal.pk).update(**changes)
    for name, value in changes.items():
        setattr(proposal, name, value)


def alerts_receive(*, alerts: list[Alert], now: datetime | None = None) -> list[int]:
    """Handle a webhook call's alerts in order, each in its own transaction (one lock held at
    a time: two calls naming the same alerts in another order cannot deadlock). Returns the
    ids of the proposals they made, found, withdrew or confirmed, each once."""
    ids = [alert_receive(alert=alert, now=now) for alert in alerts]
    return list(dict.fromkeys(pk for pk in ids if pk is not None))


def alert_receive(*, alert: Alert, now: datetime | None = None) -> int | None:
    """A firing alert proposes (or finds) an open-ended outage of its office and services; a
    resolved one withdraws that proposal or proposes to resolve the outage it became. With
    OUTAGE_AUTO_DECLARE a new proposal is confirmed at once. Returns the proposal's id (None:
    a resolved alert nobody proposed anything for)."""
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        _lock_alert(alert.fingerprint)
        if alert.status == FIRING:
            proposal = _on_firing(alert, now=now)
        else:
            proposal = _on_resolved(alert, now=now)
    return proposal.pk if proposal is not None else None


def _outage_open(declare: OutageProposal) -> bool:
    return declare.outage is not None and declare.outage.resolved_at is None


def _propose(kind, alert: Alert, *, services, now: datetime, outage=None) -> OutageProposal:
    proposal = OutageProposal.objects.create(
        kind=kind,
        office=alert.office,
        reason=alert.reason,
        reason_hi=alert.reason_hi,
        fingerprint=alert.fingerprint,
        alert_starts_at=alert.starts_at,
        labels=alert.labels,
        outage=outage,
        created_at=now,
    )
    proposal.services.set(services)
    return proposal


def _on_firing(alert: Alert, *, now: datetime) -> OutageProposal:
    live = _live(alert.fingerprint)
    for resolving in live.filter(kind=Kind.RESOLVE, state=State.OPEN):
        # Down again before anyone confirmed it was back: nothing to resolve.
        _close(resolving, now=now, state=State.WITHDRAWN)
    declare = live.filter(kind=Kind.DECLARE).select_related("outage").first()
    if declare is not None and declare.state == State.CONFIRMED and not _outage_open(declare):
        # Its outage was resolved (by a clerk) while the alert kept firing: a new story.
        _close(declare, now=now)
        declare = None
    if declare is not None:
        return declare
    declare = _propose(Kind.DECLARE, alert, services=alert.services, now=now)
    if settings.OUTAGE_AUTO_DECLARE:
        declare = proposal_confirm(proposal=declare, acting_user=None, now=now)
    return declare


def _on_resolved(alert: Alert, *, now: datetime) -> OutageProposal | None:
    live = _live(alert.fingerprint)
    declare = live.filter(kind=Kind.DECLARE).select_related("outage").first()
    if declare is None:
        # A repeated "resolved": the proposal to resolve it, if one is still open.
        return live.filter(kind=Kind.RESOLVE).first()
    if declare.state == State.OPEN:
        _close(declare, now=now, state=State.WITHDRAWN)
        return declare
    if not _outage_open(declare):
        _close(declare, now=now)  # already resolved by a clerk
        return declare
    outage = declare.outage
    resolve = live.filter(kind=Kind.RESOLVE).first()
    if resolve is not None:
        return resolve
    resolve = _propose(Kind.RESOLVE, alert, services=declare.services.all(), outage=outage, now=now)
    if settings.OUTAGE_AUTO_DECLARE:
        resolve = proposal_confirm(proposal=resolve, acting_user=None, now=now)
    return resolve


def _already_down(*, office: Office, services: list[Service], now: datetime) -> Outage | None:
    """An unresolved outage that already has the office's services down now (a clerk marked
    it before monitoring noticed): confirming links the proposal to it instead of declaring a
    second one. Partial outages do not count: the service is down, not slow."""
    wanted = {s.pk for s in services}
    for outage in (
        Outage.objects.filter(
            offices=office, resolved_at__isnull=True, capacity_percent=0, starts_at__lte=now
        )
        .filter(Q(expected_end__isnull=True) | Q(expected_end__gt=now))
        .prefetch_related("services")
        .order_by("starts_at", "pk")
    ):
        named = {s.pk for s in outage.services.all()}
        if not named or (wanted and wanted <= named):
            return outage
    return None


def _down_since(proposal: OutageProposal, now: datetime) -> datetime:
    started = proposal.alert_starts_at
    if started is not None and now - DOWN_SINCE_MAX_AGE <= started <= now:
        return started
    return now


def proposal_confirm(
    *, proposal: OutageProposal, acting_user=None, now: datetime | None = None
) -> OutageProposal:
    """Confirm an open proposal: declare its open-ended outage (`outage_create`; an outage
    that already has the service down is taken instead) or resolve the outage it names
    (`outage_resolve`). `acting_user` None: the system (auto mode).
    Raises ProposalNotOpen when it was confirmed or withdrawn meanwhile."""
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        _lock_alert(proposal.fingerprint)
        locked = (
            OutageProposal.objects.select_for_update(of=("self",))
            .select_related("office", "outage")
            .get(pk=proposal.pk)
        )
        if locked.state != State.OPEN:
            raise ProposalNotOpen()
        changes = {"state": State.CONFIRMED, "confirmed_at": now, "confirmed_by": acting_user}
        if locked.kind == Kind.DECLARE:
            services = list(locked.services.all())
            changes["outage"] = _already_down(
                office=locked.office, services=services, now=now
            ) or outage_create(
                offices=[locked.office],
                services=services,
                expected_end=None,
                capacity_percent=0,
                starts_at=_down_since(locked, now),
                reason=locked.reason,
                reason_hi=locked.reason_hi,
                acting_user=acting_user,
                details={"proposal": locked.pk},
            )
        else:
            outage_resolve(outage=locked.outage, acting_user=acting_user, now=now)
            changes["closed_at"] = now
            # The alert's story ends here: its next firing proposes a new outage.
            OutageProposal.objects.filter(
                kind=Kind.DECLARE, outage=locked.outage, closed_at__isnull=True
            ).update(closed_at=now)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(changes))
    return locked
