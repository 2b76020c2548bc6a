"""Outages proposed by monitoring (an Alertmanager webhook), for a clerk to confirm.

A firing alert proposes to declare an open-ended outage of one office (one service, or all);
a resolved alert withdraws that proposal, or — once it became an outage — proposes to resolve
it. Proposals of one alert are found again by its fingerprint (monitoring.services).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from slots.models import Office, Outage, Service


class OutageProposal(models.Model):
    class Kind(models.TextChoices):
        DECLARE = "declare", _("Declare an outage")
        RESOLVE = "resolve", _("Resolve the outage")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", pgettext_lazy("proposal state", "Confirmed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    state = models.CharField(_("status"), max_length=10, choices=State.choices, default=State.OPEN)
    office = models.ForeignKey(
        Office,
        on_delete=models.PROTECT,
        related_name="outage_proposals",
        verbose_name=_("office"),
    )
    services = models.ManyToManyField(
        Service,
        related_name="outage_proposals",
        blank=True,
        verbose_name=_("services"),
        help_text=_("Empty: every service of the office."),
    )
    reason = models.CharField(_("reason"), max_length=300)
    reason_hi = models.CharField(_("reason (Hindi)"), max_length=300, blank=True)
    fingerprint = models.CharField(_("alert fingerprint"), max_length=200)
    alert_starts_at = models.DateTimeField(_("alert started at"), null=True, blank=True)
    labels = models.JSONField(_("alert labels"), default=dict, blank=True)
    # A proposal is about its outage: deleting the outage (a superuser's clean-up) deletes it,
    # and the alert's next firing proposes afresh.
    outage = models.ForeignKey(
        Outage,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="proposals",
        verbose_name=_("outage"),
    )
    created_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    # Set when the alert's story ends for this proposal: withdrawn, a resolve confirmed, or
    # (declare) the outage it became resolved. Until then the fingerprint finds it again.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outage proposal")
        verbose_name_plural = _("outage proposals")
        constraints = [
            # The database's last word on "same fingerprint, same proposal": two webhook calls
            # racing on one alert cannot both insert a live proposal of the same kind.
            models.UniqueConstraint(
                fields=["fingerprint", "kind"],
                condition=Q(closed_at__isnull=True),
                name="proposal_one_live_per_fingerprint",
            ),
            models.CheckConstraint(
                condition=Q(kind="declare") | Q(outage__isnull=False),
                name="proposal_resolve_names_outage",
            ),
        ]
        indexes = [
            # The banner and the API list the open proposals of a clerk's offices.
            models.Index(
                fields=["office", "created_at"],
                condition=Q(state="open"),
                name="proposal_open_by_office",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.get_state_display()})"
