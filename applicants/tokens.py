"""Signed, expiring API tokens for applicants (`Authorization: Bearer <token>`).

A token is the applicant's id signed with Django's TimestampSigner under its own salt, so it
cannot be forged without SECRET_KEY, cannot be confused with any other signed value of the
project, and expires APPLICANT_TOKEN_HOURS after it was issued. Nothing is stored: rotating
SECRET_KEY signs every applicant out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing

from applicants.models import Applicant

SALT = "applicants.tokens.api"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _lifetime() -> timedelta:
    return timedelta(hours=getattr(settings, "APPLICANT_TOKEN_HOURS", 12))


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def applicant_token_issue(*, applicant: Applicant) -> IssuedToken:
    """A fresh token for `applicant` and the moment it stops being accepted."""
    token = _signer().sign(str(applicant.pk))
    # The signer stamps whole seconds; expiry is computed from that very stamp.
    signed_at = signing.b62_decode(token.rsplit(signing.Signer().sep, 2)[1])
    expires_at = datetime.fromtimestamp(signed_at, tz=UTC) + _lifetime()
    return IssuedToken(token=token, expires_at=expires_at)


def applicant_token_verify(*, token: str) -> Applicant | None:
    """The applicant a valid, unexpired token names, or None."""
    try:
        value = _signer().unsign(token, max_age=_lifetime())
        applicant_id = int(value)
    except (signing.BadSignature, ValueError):
        return None
    return applicant_by_id(applicant_id)


def applicant_by_id(applicant_id: int) -> Applicant | None:
    """The applicant with this id, or None (also for an id no database column could hold)."""
    if not -(2**63) <= applicant_id < 2**63:
        return None
    return Applicant.objects.filter(pk=applicant_id).first()
