"""Who is calling: an applicant (`Authorization: Bearer <token>`) or staff (`Token <key>`).

Applicant requests get `request.user` = the `Applicant`; staff requests get the Django user.
Both classes answer `authenticate_header`, so a missing or bad credential is a 401 (not 403).
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from applicants.models import Applicant
from applicants.tokens import applicant_token_verify


class ApplicantTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header."))
        try:
            token = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        applicant = applicant_token_verify(token=token)
        if applicant is None:
            raise exceptions.AuthenticationFailed(
                _("The token is invalid or has expired. Please sign in again.")
            )
        return applicant, token

    def authenticate_header(self, request):
        return self.keyword


class StaffTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (`Authorization: Token <key>`), for active staff users only,
    and only STAFF_TOKEN_HOURS after the key was made (a key copied off a counter PC must not
    work for ever); `POST /api/v1/auth/logout/` deletes it at once."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if not (user.is_staff or user.is_superuser):
            raise exceptions.AuthenticationFailed(_("This account may not use the staff API."))
        if token.created <= timezone.now() - timedelta(hours=settings.STAFF_TOKEN_HOURS):
            raise exceptions.AuthenticationFailed(
                _("The token is invalid or has expired. Please sign in again.")
            )
        return user, token


def is_applicant(user) -> bool:
    return isinstance(user, Applicant)


def is_staff(user) -> bool:
    return (
        user is not None
        and not isinstance(user, Applicant)
        and getattr(user, "is_authenticated", False)
        and (user.is_staff or user.is_superuser)
    )


class ApplicantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApplicantTokenAuthentication"
    name = "applicantToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Applicant token from POST /api/v1/auth/applicant/.",
        }


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Staff token, sent as "Token <key>" (manage.py drf_create_token).',
        }


class ServiceCaller:
    """A machine calling a webhook with a shared secret (Alertmanager, an SMS gateway): no
    user, no staff, no office."""

    pk = "service"
    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False


class SharedSecretAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <secret>`, the secret a setting (`setting`), compared in constant
    time. With the setting unset no token matches: every call is 401. A subclass names the
    setting, the caller class it authenticates as and the message of a wrong token."""

    keyword = "Bearer"
    setting = ""
    caller = ServiceCaller
    wrong_token = ""

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts:
            return None  # the permission answers 401 not_authenticated
        expected = str(getattr(settings, self.setting, "") or "").encode()
        given = parts[1] if len(parts) == 2 and parts[0].lower() == b"bearer" else b""
        if not (expected and given and hmac.compare_digest(given, expected)):
            raise exceptions.AuthenticationFailed(str(self.wrong_token))
        return self.caller(), None

    def authenticate_header(self, request):
        return self.keyword
