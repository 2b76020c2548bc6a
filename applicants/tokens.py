"""API tokens for applicants (`Authorization: Bearer <token>`).

A token is 32 random bytes (URL-safe base64): it names nobody and cannot be guessed or derived
from an id. Only its SHA-256 is stored (`ApplicantToken`), with the moment it was issued; it is
accepted until APPLICANT_TOKEN_HOURS after that (read when verifying, so shortening the
setting shortens every token) and stops at once when signed out (`applicant_token_revoke`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from applicants.models import Applicant, ApplicantToken

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100  # longer input is no token of ours: not even hashed


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _lifetime() -> timedelta:
    return timedelta(hours=getattr(settings, "APPLICANT_TOKEN_HOURS", 12))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def applicant_token_issue(*, applicant: Applicant) -> IssuedToken:
    """A fresh token for `applicant` and the moment it stops being accepted."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # The applicant's expired sign-ins go as a new one comes: the table holds live tokens.
    ApplicantToken.objects.filter(
        applicant=applicant, created_at__lte=timezone.now() - _lifetime()
    ).delete()
    issued = ApplicantToken.objects.create(applicant=applicant, key_hash=_hash(token))
    return IssuedToken(token=token, expires_at=issued.created_at + _lifetime())


def applicant_token_verify(*, token: str) -> Applicant | None:
    """The applicant a valid, unexpired, not signed-out token names, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = (
        ApplicantToken.objects.select_related("applicant")
        .filter(key_hash=_hash(token), created_at__gt=timezone.now() - _lifetime())
        .first()
    )
    return row.applicant if row is not None else None


def applicant_token_revoke(*, token: str) -> None:
    """Sign out: the token stops working at once."""
    ApplicantToken.objects.filter(key_hash=_hash(token)).delete()


def applicant_by_id(applicant_id: int) -> Applicant | None:
    """The applicant with this id, or None (also for an id no database column could hold)."""
    if not -(2**63) <= applicant_id < 2**63:
        return None
    return Applicant.objects.filter(pk=applicant_id).first()
