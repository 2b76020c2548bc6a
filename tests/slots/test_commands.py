from io import StringIO

import pytest
from django.core.management import call_command

from applicants.models import Applicant
from slots.models import Booking, Closure, Offering, Office, Service, Slot, WeeklySession
from tests.factories import ApplicantFactory, SlotFactory

pytestmark = pytest.mark.django_db


def _snapshot():
    return {
        model.__name__: sorted(model.objects.values_list("pk", flat=True))
        for model in (Office, Service, Offering, WeeklySession, Closure, Slot, Applicant)
    }


def test_seed_demo_creates_the_mp_offices_and_is_idempotent(settings):
    settings.DEBUG = False
    call_command("seed_demo", days=10, stdout=StringIO())
    first = _snapshot()
    call_command("seed_demo", days=10, stdout=StringIO())
    assert _snapshot() == first
    codes = set(Office.objects.values_list("code", flat=True))
    assert {"MP-04", "MP-09", "MP-07", "MP-20", "MP-13"} <= codes
    assert Office.objects.get(code="MP-04").name_hi == "आरटीओ भोपाल"
    assert set(Service.objects.values_list("slug", flat=True)) == {
        "learner-test",
        "driving-test",
        "photo-biometrics",
        "document-verification",
    }
    assert Slot.objects.exists()
    # No demo superuser or applicant unless DEBUG is on.
    assert not Applicant.objects.exists()


def test_seed_demo_closes_second_and_fourth_saturdays():
    call_command("seed_demo", days=1, stdout=StringIO())
    bhopal = Office.objects.get(code="MP-04")
    saturdays = set(
        Closure.objects.filter(office=bhopal, date__year=2026, date__month=12).values_list(
            "date__day", flat=True
        )
    )
    assert {12, 26} <= saturdays  # 12 and 26 December 2026 are the 2nd and 4th Saturdays
    assert 5 not in saturdays and 19 not in saturdays


def test_seed_demo_makes_a_demo_admin_only_in_debug(settings, django_user_model):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", days=1, stdout=out)
    assert django_user_model.objects.filter(username="admin", is_superuser=True).exists()
    assert "Demo applicant" in out.getvalue()


def test_seed_demo_makes_a_clerk_who_sees_only_bhopal(settings, client):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", days=1, stdout=out)
    assert "Demo clerk of MP-04: clerk-bhopal / clerk-bhopal" in out.getvalue()
    assert client.login(username="clerk-bhopal", password="clerk-bhopal")
    page = client.get("/admin/slots/office/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "MP-04" in html and "MP-09" not in html
    call_command("seed_demo", days=1, stdout=StringIO())  # idempotent for the clerk too
    assert client.get("/admin/slots/outage/add/").status_code == 200


def test_generate_slots_command_rejects_a_bad_horizon():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("generate_slots", days=0, stdout=StringIO())


def test_check_integrity_passes_on_clean_data(bhopal_photo):
    SlotFactory(offering=bhopal_photo)
    call_command("check_integrity", stdout=StringIO())


def test_check_integrity_names_a_corrupted_counter_and_an_over_capacity_slot(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, capacity=1)
    full = SlotFactory(offering=bhopal_photo, capacity=1, starts_at=slot.ends_at)
    for target in (slot, full):
        Booking.objects.create(
            reference=f"REF{target.pk:07d}",
            applicant=ApplicantFactory(),
            slot=target,
            office=target.office,
            service=target.service,
        )
    # `slot` says 0 booked but holds one booking: a corrupted counter.
    # `full` holds one booking in capacity 1, then capacity is lowered under it without the
    # CHECK constraint (dropped for this test's transaction only) to stage an over-capacity slot.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE slots_slot DROP CONSTRAINT slot_booked_within_capacity")
        cursor.execute(
            "ALTER TABLE slots_slot DROP CONSTRAINT slot_priority_reserve_within_capacity"
        )
        cursor.execute(
            "ALTER TABLE slots_slot DROP CONSTRAINT slot_booked_and_offers_within_capacity"
        )
        cursor.execute("UPDATE slots_slot SET booked = 1, capacity = 0 WHERE id = %s", [full.pk])
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_integrity", stdout=out, stderr=StringIO())
    assert exit_info.value.code == 1
    text = out.getvalue()
    assert f"slot {slot.pk}" in text and "counts booked=0 but holds 1" in text
    assert f"slot {full.pk}" in text and "outside 0..capacity=0" in text
