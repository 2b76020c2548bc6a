"""The clerk's mark-down preview with recovery capacity: when the last affected applicant would
be served, the proposed extra sessions, and the one action that adds them before confirming."""

from __future__ import annotations

import pytest
from django.urls import reverse

from slots.models import ExtraSession
from tests.admin.conftest import DAY, local_dt
from tests.factories import fill_slots, next_monday

pytestmark = pytest.mark.django_db
ADD = reverse("admin:slots_outage_add")
MONDAY = next_monday()


def _form(bhopal, photo):
    return {
        "offices": [bhopal.pk],
        "services": [photo.pk],
        "starts_at": local_dt(MONDAY, 0).strftime("%Y-%m-%dT%H:%M"),
        "expected_end": local_dt(MONDAY + DAY, 0).strftime("%Y-%m-%dT%H:%M"),
        "reason": "Photo-capture server down",
        "reason_hi": "फोटो सर्वर बंद",
    }


@pytest.fixture
def behind(photo_weekdays):
    """Monday's 4 bookings would wait until Friday: Tuesday to Thursday are full."""
    fill_slots(photo_weekdays, MONDAY)
    for offset in (1, 2, 3):
        fill_slots(photo_weekdays, MONDAY + offset * DAY)
    return photo_weekdays


def test_the_preview_proposes_extra_sessions_and_one_action_adds_them(
    bhopal_client, bhopal, photo, behind
):
    html = bhopal_client.post(ADD, {**_form(bhopal, photo), "_preview": "1"}).content.decode()
    assert 'id="recovery-late"' in html and "4 bookings would not be served by" in html
    assert html.count('class="proposed-session"') == 1 and "Longer hours" in html
    assert "11:00–13:00" in html and 'name="_add_sessions"' in html
    assert not ExtraSession.objects.exists()  # a preview writes nothing

    response = bhopal_client.post(ADD, {**_form(bhopal, photo), "_add_sessions": "1"})
    html = response.content.decode()
    [session] = ExtraSession.objects.all()
    assert (session.date, session.priority_reserve) == (MONDAY + DAY, 2)
    assert "1 extra session added" in html
    # The preview again, now on time; still to be confirmed.
    assert 'id="recovery-on-time"' in html and 'name="_confirm"' in html
    assert 'name="_add_sessions"' not in html


def test_the_recovery_preview_in_hindi(bhopal_client, bhopal, photo, behind):
    bhopal_client.cookies.load({"django_language": "hi"})
    html = bhopal_client.post(
        ADD, {**_form(bhopal, photo), "_preview": "1"}, HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "अतिरिक्त सत्र" in html and "4 बुकिंग" in html
