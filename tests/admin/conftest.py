"""Clerk-admin personas: the conftest clerks in the "Clerk" group, a supervisor, and offices
with a week of generated slots (sessions 10:00–12:00 every day, 4 seats, 1 held back)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.test import TestCase
from django.utils import timezone

from slots.models import Slot
from slots.services.bookings import booking_create
from slots.services.outages import outage_create
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, UserFactory, daily_sessions, local_dt

DAY = timedelta(days=1)


def add_sessions(offering, *, seats=4, reserve=1):
    daily_sessions(offering, seats=seats, reserve=reserve)


def day_slots(offering, day):
    return list(
        Slot.objects.filter(
            offering=offering, starts_at__gte=local_dt(day, 0), starts_at__lt=local_dt(day, 23)
        ).order_by("starts_at")
    )


def fill_day(offering, day, per_slot, **applicant):
    """Book `per_slot` new applicants into each slot of `day`, in slot order."""
    return [
        booking_create(applicant=ApplicantFactory(**applicant), slot_id=slot.pk)
        for slot in day_slots(offering, day)
        for _ in range(per_slot)
    ]


def record_outage(offices, day, *, services=None, acting_user=None, reason="Photo server down"):
    """An outage of the whole local `day`, its rescheduling run in-process at commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return outage_create(
            offices=offices,
            services=services,
            starts_at=local_dt(day, 0),
            expected_end=local_dt(day + DAY, 0),
            reason=reason,
            reason_hi="फोटो सर्वर बंद",
            acting_user=acting_user,
        )


def ensure_groups():
    """The groups come from migration slots 0002; a transactional test (live server) flushes
    every table after it, so later transactional tests run the same code again."""
    if Group.objects.filter(name__in=["Clerk", "Supervisor"]).count() != 2:
        migration = importlib.import_module("slots.migrations.0002_clerk_groups")
        migration.create_groups(django_apps, None)
        importlib.import_module("slots.migrations.0008_waitlist_clerk_permissions").grant(
            django_apps, None
        )


@pytest.fixture
def clerk_group(db):
    ensure_groups()
    return Group.objects.get(name="Clerk")


@pytest.fixture
def supervisor_group(db):
    ensure_groups()
    return Group.objects.get(name="Supervisor")


@pytest.fixture
def clerk_bhopal(clerk_bhopal, clerk_group):
    clerk_bhopal.groups.add(clerk_group)
    return clerk_bhopal


@pytest.fixture
def clerk_indore(clerk_indore, clerk_group):
    clerk_indore.groups.add(clerk_group)
    return clerk_indore


@pytest.fixture
def supervisor_bhopal(bhopal, supervisor_group):
    user = UserFactory(username="supervisor-bhopal")
    user.groups.add(supervisor_group)
    bhopal.clerks.add(user)
    return user


@pytest.fixture
def photo_bhopal(bhopal_photo):
    add_sessions(bhopal_photo)
    slots_generate(days=12, offerings=type(bhopal_photo).objects.filter(pk=bhopal_photo.pk))
    return bhopal_photo


@pytest.fixture
def photo_indore(indore_photo):
    add_sessions(indore_photo)
    slots_generate(days=12, offerings=type(indore_photo).objects.filter(pk=indore_photo.pk))
    return indore_photo


@pytest.fixture
def outage_day():
    return timezone.localdate() + 3 * DAY


@pytest.fixture
def bhopal_client(client, clerk_bhopal):
    client.force_login(clerk_bhopal)
    return client


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


def mark_down_in_browser(page, live_server, clerk, *, service, day) -> None:
    """Sign `clerk` in on `page` and fill step 1 of *Mark a service down*: `service` down for
    the whole of `day`; stops on the preview's submit (the caller clicks it)."""
    page.goto(f"{live_server.url}/admin/login/?next=/admin/slots/outage/add/")
    page.fill("#id_username", clerk.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#mark-down-form")
    page.check(f"#id_services input[value='{service.pk}']")
    page.fill("#id_starts_at", f"{day}T00:00")
    page.fill("#id_expected_end", f"{day + DAY}T00:00")
    page.fill("#id_reason", "Photo-capture server down")
    page.fill("#id_reason_hi", "फोटो सर्वर बंद")
