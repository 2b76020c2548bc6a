"""A Bhopal clerk cannot list, open, change or act on Indore data; a superuser can."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from slots.models import Booking, Closure, Outage
from tests.admin.conftest import DAY, day_slots, fill_day, local_dt, record_outage
from tests.factories import OfficeFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(photo_bhopal, photo_indore, bhopal, indore, photo, outage_day):
    """Bookings, an outage, a closure and notifications at each office, plus a joint outage."""
    data = {}
    for name, offering, office in (
        ("bhopal", photo_bhopal, bhopal),
        ("indore", photo_indore, indore),
    ):
        data[f"{name}_bookings"] = fill_day(offering, outage_day - DAY, per_slot=1)
        fill_day(offering, outage_day, per_slot=1)
        data[f"{name}_outage"] = record_outage([office], outage_day, services=[photo])
        data[f"{name}_closure"] = Closure.objects.create(
            office=office, date=outage_day + 20 * DAY, reason=f"Holiday {name}"
        )
        data[f"{name}_slot"] = day_slots(offering, outage_day - DAY)[0]
    data["joint_outage"] = record_outage(
        [bhopal, indore], outage_day + 6 * DAY, reason="State server"
    )
    return data


def _changelist(client, model, **params):
    response = client.get(reverse(f"admin:{model}_changelist"), params)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_lists_show_only_the_clerks_offices(bhopal_client, world):
    outages = _changelist(bhopal_client, "slots_outage")
    assert world["bhopal_outage"].pk in outages and world["joint_outage"].pk in outages
    assert world["indore_outage"].pk not in outages
    bookings = _changelist(bhopal_client, "slots_booking")
    assert bookings and bookings <= {b.pk for b in Booking.objects.filter(office__code="MP-04")}
    assert _changelist(bhopal_client, "slots_closure") == {world["bhopal_closure"].pk}
    slots = _changelist(bhopal_client, "slots_slot")
    assert world["bhopal_slot"].pk in slots and world["indore_slot"].pk not in slots
    assert {
        o.code
        for o in bhopal_client.get(reverse("admin:slots_office_changelist"))
        .context["cl"]
        .result_list
    } == {"MP-04"}
    applicants = _changelist(bhopal_client, "applicants_applicant")
    assert {b.applicant_id for b in world["bhopal_bookings"]} <= applicants
    assert not applicants & {b.applicant_id for b in world["indore_bookings"]}
    notifications = _changelist(bhopal_client, "notifications_notification")
    assert notifications
    assert set(
        Notification.objects.filter(pk__in=notifications).values_list(
            "booking__office__code", flat=True
        )
    ) == {"MP-04"}


def test_search_and_filters_do_not_reach_other_offices(bhopal_client, clerk_bhopal, world, indore):
    indore_booking = world["indore_bookings"][0]
    assert _changelist(bhopal_client, "slots_booking", q=indore_booking.reference) == set()
    bhopal_only = {b.pk for b in Booking.objects.filter(office__code="MP-04")}
    assert _changelist(bhopal_client, "slots_booking", office__id__exact=indore.pk) <= bhopal_only
    # A clerk of two offices gets an office filter offering exactly those two.
    OfficeFactory(code="MP-37", name="RTO Sehore").clerks.add(clerk_bhopal)
    response = bhopal_client.get(reverse("admin:slots_booking_changelist"))
    office_filter = next(f for f in response.context["cl"].filter_specs if f.title == "office")
    assert [label for _pk, label in office_filter.lookup_choices] == [
        "MP-04 RTO Bhopal",
        "MP-37 RTO Sehore",
    ]


def test_change_pages_of_other_offices_do_not_open(bhopal_client, world):
    pages = [
        reverse("admin:slots_outage_change", args=[world["indore_outage"].pk]),
        reverse("admin:slots_booking_change", args=[world["indore_bookings"][0].pk]),
        reverse("admin:slots_closure_change", args=[world["indore_closure"].pk]),
        reverse("admin:slots_slot_change", args=[world["indore_slot"].pk]),
        reverse("admin:slots_outage_history", args=[world["indore_outage"].pk]),
    ]
    for url in pages:
        response = bhopal_client.get(url)
        # Django's admin answers an object outside the queryset with "does not exist".
        assert response.status_code == 302 and response.url == reverse("admin:index"), url


def test_outage_endpoints_of_other_offices_answer_404(bhopal_client, world):
    outage = world["indore_outage"]
    assert (
        bhopal_client.get(reverse("admin:slots_outage_progress", args=[outage.pk])).status_code
        == 404
    )
    for name, data in (("extend", {"hours": "4"}), ("resolve", {}), ("undo", {})):
        response = bhopal_client.post(reverse(f"admin:slots_outage_{name}", args=[outage.pk]), data)
        assert response.status_code == 404, name
    before = Outage.objects.get(pk=outage.pk)
    assert before.resolved_at is None and before.expected_end == outage.expected_end


def test_an_outage_shared_with_another_office_is_visible_but_not_actionable(bhopal_client, world):
    outage = world["joint_outage"]
    page = bhopal_client.get(reverse("admin:slots_outage_change", args=[outage.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="outage-resolve"' not in html and "not yours" in html
    response = bhopal_client.post(
        reverse("admin:slots_outage_resolve", args=[outage.pk]), {"confirmed": "yes"}
    )
    assert response.status_code == 403
    assert (
        bhopal_client.get(reverse("admin:slots_outage_resolve", args=[outage.pk])).status_code
        == 403
    )
    outage.refresh_from_db()
    assert outage.resolved_at is None


def test_cannot_mark_another_office_down_or_preview_it(bhopal_client, world, indore, outage_day):
    start = local_dt(outage_day + 9 * DAY, 0)
    data = {
        "offices": [indore.pk],
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "expected_end": (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "Not mine",
        "reason_hi": "मेरा नहीं",
    }
    count = Outage.objects.count()
    for button in ("_preview", "_confirm"):
        response = bhopal_client.post(reverse("admin:slots_outage_add"), {**data, button: "1"})
        assert response.status_code == 200
        assert response.context["preview"] is None
        assert "offices" in response.context["form"].errors
    assert Outage.objects.count() == count


def test_actions_ignore_bookings_of_other_offices(bhopal_client, world):
    indore_booking = world["indore_bookings"][0]
    response = bhopal_client.post(
        reverse("admin:slots_booking_changelist"),
        {"action": "check_in", "_selected_action": [indore_booking.pk]},
    )
    assert response.status_code in (200, 302)
    indore_booking.refresh_from_db()
    assert indore_booking.status == "confirmed"
    url = reverse("admin:slots_booking_check_in", args=[indore_booking.pk])
    assert bhopal_client.post(url).status_code == 404
    indore_booking.refresh_from_db()
    assert indore_booking.status == "confirmed"


def test_day_sheet_of_another_office_is_forbidden(bhopal_client, world, outage_day):
    url = reverse("admin:slots_booking_day_sheet")
    params = {"office": "MP-09", "date": str(outage_day - DAY), "service": "photo-biometrics"}
    assert bhopal_client.get(url, params).status_code == 403
    assert bhopal_client.get(url, {**params, "office": "MP-99"}).status_code == 404
    assert bhopal_client.get(url, {**params, "office": "MP-04"}).status_code == 200


def test_form_choices_offer_only_the_clerks_offices(
    client, supervisor_bhopal, world, indore, bhopal
):
    client.force_login(supervisor_bhopal)
    form = client.get(reverse("admin:slots_closure_add")).context["adminform"].form
    assert list(form.fields["office"].queryset) == [bhopal]
    response = client.post(
        reverse("admin:slots_closure_add"),
        {"office": indore.pk, "date": str(timezone.localdate() + 30 * DAY), "reason": "x"},
    )
    assert response.status_code == 200 and "office" in response.context["adminform"].form.errors
    extra_form = client.get(reverse("admin:slots_extrasession_add")).context["adminform"].form
    assert {o.office_id for o in extra_form.fields["offering"].queryset} == {bhopal.pk}


def test_superuser_sees_and_acts_on_every_office(root_client, world, indore, outage_day):
    outages = _changelist(root_client, "slots_outage")
    assert {
        world["bhopal_outage"].pk,
        world["indore_outage"].pk,
        world["joint_outage"].pk,
    } <= outages
    outage = world["indore_outage"]
    assert (
        root_client.get(reverse("admin:slots_outage_change", args=[outage.pk])).status_code == 200
    )
    assert (
        root_client.get(reverse("admin:slots_outage_progress", args=[outage.pk])).json()["state"]
        == "done"
    )
    params = {"office": "MP-09", "date": str(outage_day - DAY), "service": "photo-biometrics"}
    assert root_client.get(reverse("admin:slots_booking_day_sheet"), params).status_code == 200
    response = root_client.post(
        reverse("admin:slots_outage_resolve", args=[world["joint_outage"].pk]),
        {"confirmed": "yes"},
    )
    assert response.status_code == 302
    world["joint_outage"].refresh_from_db()
    assert world["joint_outage"].resolved_at is not None
    notifications = _changelist(root_client, "notifications_notification")
    assert {"MP-04", "MP-09"} <= set(
        Notification.objects.filter(pk__in=notifications).values_list(
            "booking__office__code", flat=True
        )
    )


def test_clerk_of_no_office_sees_nothing(client, clerk_group, world):
    nobody = UserFactory(username="clerk-nowhere")
    nobody.groups.add(clerk_group)
    client.force_login(nobody)
    assert _changelist(client, "slots_booking") == set()
    assert _changelist(client, "slots_outage") == set()
    form = client.get(reverse("admin:slots_outage_add")).context["form"]
    assert not form.fields["offices"].queryset.exists()
