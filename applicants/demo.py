"""The people of the demo (`seed_demo`, only with DEBUG on): an admin, a clerk of Bhopal, an
applicant. The offices, services and slots are slots.services.demo's."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from applicants.models import Applicant
from slots.models import Office

DEMO_ADMIN = ("admin", "admin")
# A clerk of one office (the "Clerk" group, Office.clerks = Bhopal): the admin as clerks see it,
# scoped to their own office.
DEMO_CLERK = ("clerk-bhopal", "clerk-bhopal", "MP-04")
DEMO_APPLICANT = {
    "application_number": "2611000001",
    "full_name": "Ramesh Kumar Sharma",
    "date_of_birth": date(1998, 5, 14),
    "mobile": "+919826012345",
    "email": "ramesh.sharma@example.in",
    "preferred_language": "hi",
}


def demo_seed_people() -> list[str]:
    """A demo superuser and applicant, only with DEBUG on. Returns lines to show the user."""
    if not settings.DEBUG:
        return []
    lines = []
    user_model = get_user_model()
    username, password = DEMO_ADMIN
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username, "admin@rto.example.in", password)
    lines.append(f"Demo admin: {username} / {password} at /admin/")
    username, password, office_code = DEMO_CLERK
    clerk = user_model.objects.filter(username=username).first()
    if clerk is None:
        clerk = user_model.objects.create_user(
            username, f"{username}@rto.example.in", password, is_staff=True
        )
    clerk.groups.add(Group.objects.get(name="Clerk"))
    Office.objects.get(code=office_code).clerks.add(clerk)
    lines.append(f"Demo clerk of {office_code}: {username} / {password} at /admin/")
    # The demo applicant's mobile counts as verified (the code entered once): the demo books
    # at once. A new registration in the demo gets its code on the runserver console.
    demo, _created = Applicant.objects.update_or_create(
        application_number=DEMO_APPLICANT["application_number"], defaults=DEMO_APPLICANT
    )
    Applicant.objects.filter(pk=demo.pk, mobile_verified_at__isnull=True).update(
        mobile_verified_at=timezone.now()
    )
    lines.append(
        f"Demo applicant: application number {DEMO_APPLICANT['application_number']}, "
        f"date of birth {DEMO_APPLICANT['date_of_birth']:%Y-%m-%d}"
    )
    return lines
