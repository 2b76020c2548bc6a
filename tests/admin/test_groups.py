"""The Clerk and Supervisor groups come from a data migration, with the right permissions."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def _codenames(name):
    group = Group.objects.get(name=name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_clerk_group_views_everything_and_changes_only_outages_and_bookings():
    codenames = _codenames("Clerk")
    for model in ["office", "service", "slot", "booking", "outage", "closure"]:
        assert f"slots.view_{model}" in codenames
    assert "applicants.view_applicant" in codenames
    assert "notifications.view_notification" in codenames
    assert {"slots.add_outage", "slots.change_outage", "slots.change_booking"} <= codenames
    assert not {c for c in codenames if c.split(".")[1].startswith("delete_")}
    assert "slots.add_closure" not in codenames
    assert "slots.change_weeklysession" not in codenames
    assert "slots.add_booking" not in codenames


def test_supervisor_group_also_edits_capacity_and_closures():
    clerk, supervisor = _codenames("Clerk"), _codenames("Supervisor")
    assert clerk < supervisor
    assert {
        "slots.add_weeklysession",
        "slots.change_weeklysession",
        "slots.add_extrasession",
        "slots.change_extrasession",
        "slots.add_closure",
        "slots.change_closure",
        "slots.add_slot",
        "slots.change_slot",
    } <= supervisor


def test_clerk_permissions_reach_the_user(clerk_bhopal):
    assert clerk_bhopal.has_perm("slots.add_outage")
    assert clerk_bhopal.has_perm("slots.change_booking")
    assert not clerk_bhopal.has_perm("slots.add_closure")
