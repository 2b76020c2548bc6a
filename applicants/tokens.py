"""Signed, expiring API tokens for applicants (`Authorization: Bearer <token>`).

A token is the applicant's id signed with Django's TimestampSigner under its own salt, so it
cannot be forged without SECRET_KEY, cannot be confused with any other signed value of the
project, and expires APPLICANT_TOKEN_HOURS after it was issued. Nothing is stored: rotating
SECRET_KEY signs every applicant out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing

from applicants.models import Applicant
from rto_booking.db import model_columns, model_from_row, prepared_cursor

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


@functools.cache
def _applicant_by_id_sql() -> str:
    table, pk = Applicant._meta.db_table, Applicant._meta.pk.column
    return f'SELECT {model_columns(Applicant)} FROM "{table}" WHERE "{pk}" = %s'  # noqa: S608


def applicant_by_id(applicant_id: int) -> Applicant | None:
    """The applicant row, read with a fixed statement: every API request of an applicant
    starts here, and compiling `Applicant.objects.filter(pk=…).first()` cost more than the
    query itself."""
    if not -(2**63) <= applicant_id < 2**63:
        return None
    with prepared_cursor() as cursor:
        cursor.execute(_applicant_by_id_sql(), [applicant_id])
        row = cursor.fetchone()
    return None if row is None else model_from_row(Applicant, row)[0]
