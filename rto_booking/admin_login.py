"""The admin's login, throttled on failures like the applicants' sign-in
(rto_booking/signin_limits.py): escalating per user name (SIGNIN_LOCKOUT_STEPS), a higher
ceiling per client address (SIGNIN_FAILURES_PER_ADDRESS). Forty wrong passwords in ten
seconds were possible before; now the fifth locks the name for 15 minutes, and so on.

Installed as the default admin site (`RtoAdminConfig.default_site`), the documented way to
customise `admin.site`.
"""

from __future__ import annotations

import math

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from rto_booking.rate_limits import client_address
from rto_booking.signin_limits import (
    FailureLimit,
    NumberLockout,
    SignInFailureCounter,
    SignInPolicy,
    hashed_number,
)


def admin_login_failures(*, username: str, client_address: str) -> SignInPolicy:
    from django.conf import settings

    return SignInPolicy(
        number=NumberLockout(hashed_number(username.lower()), prefix="admin-login:user"),
        address=SignInFailureCounter(
            [
                FailureLimit(
                    "admin-login:address",
                    client_address or "",
                    settings.SIGNIN_FAILURES_PER_ADDRESS,
                    settings.SIGNIN_FAILURE_WINDOW_SECONDS,
                )
            ]
        ),
    )


class ThrottledAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        policy = admin_login_failures(
            username=str(request.POST.get("username", "")),
            client_address=client_address(request),
        )
        wait = policy.retry_after()
        if wait is not None:
            context = {
                **self.each_context(request),
                "title": gettext("Log in"),
                "minutes": max(1, math.ceil(wait / 60)),
            }
            response = TemplateResponse(request, "admin/login_throttled.html", context, status=429)
            response["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        response = super().login(request, extra_context)
        if not (request.user.is_authenticated and request.user.is_staff):
            policy.record_failure()
        return response


class RtoAdminConfig(AdminConfig):
    default_site = "rto_booking.admin_login.ThrottledAdminSite"
