"""Applicants: the people who book. They sign in with application number + date of birth."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Applicant(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        HINDI = "hi", "हिन्दी"

    application_number = models.CharField(_("application number"), max_length=20, unique=True)
    full_name = models.CharField(_("full name"), max_length=120)
    date_of_birth = models.DateField(_("date of birth"))
    # Stored normalised as +91XXXXXXXXXX (applicants.validators.normalise_indian_mobile).
    mobile = models.CharField(_("mobile"), max_length=13, db_index=True)
    email = models.EmailField(_("e-mail"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    learner_licence_issued_on = models.DateField(
        _("learner licence issued on"),
        null=True,
        blank=True,
        help_text=_("Driving-test slots must fall 30 days to 6 months after this date."),
    )
    # When the applicant proved the mobile is theirs (a one-time code sent to it); null while
    # unproven. Bookings and "forgot my application number" need a verified mobile.
    mobile_verified_at = models.DateTimeField(_("mobile verified at"), null=True, blank=True)
    created_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")

    def __str__(self) -> str:
        return f"{self.application_number} {self.full_name}"

    @property
    def mobile_verified(self) -> bool:
        return self.mobile_verified_at is not None


class MobileCode(models.Model):
    """A one-time code sent by SMS to prove a mobile is the applicant's.

    Only an HMAC-SHA256 of the code with a random salt is kept (applicants.services), never the
    code: a database dump cannot verify anyone. The newest unused code of an applicant is the
    one that counts (a new code makes the older ones useless); it works until `expires_at`, for
    at most MOBILE_CODE_MAX_TRIES wrong entries."""

    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="mobile_codes")
    # The number the code went to: a code proves that number, not whatever the record says now.
    mobile = models.CharField(max_length=13)
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mobile code")
        verbose_name_plural = _("mobile codes")
        indexes = [models.Index(fields=["applicant", "-created_at"], name="mobile_code_latest")]

    def __str__(self) -> str:
        return f"code for applicant {self.applicant_id} sent {self.created_at:%Y-%m-%d %H:%M}"


class ApplicantToken(models.Model):
    """An API sign-in (`Authorization: Bearer <token>`). The token is random (nothing in it
    names the applicant) and only its SHA-256 is stored, so a database dump signs nobody in;
    deleting the row (sign-out) stops it at once."""

    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("applicant API token")
        verbose_name_plural = _("applicant API tokens")

    def __str__(self) -> str:
        return f"token of applicant {self.applicant_id} issued {self.created_at:%Y-%m-%d %H:%M}"
