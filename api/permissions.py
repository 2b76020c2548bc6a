"""Who may do what: applicants act on their own bookings, clerks on their offices' data."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions

from api.authentication import is_applicant, is_staff


class _Role(permissions.BasePermission):
    message = _("You do not have permission to do this.")

    def allowed(self, user) -> bool:
        raise NotImplementedError

    def has_permission(self, request, view):
        if request.user is None:
            raise exceptions.NotAuthenticated()
        return self.allowed(request.user)


class IsApplicant(_Role):
    message = _("Only applicants can do this.")

    def allowed(self, user) -> bool:
        return is_applicant(user)


class IsStaff(_Role):
    message = _("Only RTO staff can do this.")

    def allowed(self, user) -> bool:
        return is_staff(user)


class IsApplicantOrStaff(_Role):
    def allowed(self, user) -> bool:
        return is_applicant(user) or is_staff(user)


def require_perm(user, perm: str) -> None:
    """403 unless the staff user holds `perm` (e.g. "slots.add_outage"): the API honours the
    same groups (Clerk, Supervisor) and model permissions as the admin, so being listed as an
    office's clerk is not enough on its own."""
    if not user.has_perm(perm):
        raise exceptions.PermissionDenied(_("Your account may not do this."))


def staff_office_ids(user) -> set[int] | None:
    """Office ids a staff user may act on; None means every office (superuser)."""
    if user.is_superuser:
        return None
    return set(user.offices.values_list("pk", flat=True))


def require_offices(user, office_ids) -> None:
    """403 unless `user` may act on every one of `office_ids`."""
    allowed = staff_office_ids(user)
    if allowed is not None and not set(office_ids) <= allowed:
        raise exceptions.PermissionDenied(_("You may act only on your own offices."))
