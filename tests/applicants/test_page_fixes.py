"""A chosen time survives registration; a day or a time that is over says so in the visitor's
language, with the way back to the calendar and no confirm button."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from applicants.models import Applicant
from tests.applicants.conftest import day_ahead, sign_in
from tests.factories import BookingFactory, SlotFactory, local_dt
from tests.sms_outbox import code_sent_to

pytestmark = pytest.mark.django_db
MOBILE = "+919826012345"
REGISTRATION = {
    "full_name": "Sunita Verma",
    "date_of_birth": "1995-06-15",
    "mobile": "98260 12345",
    "email": "",
    "preferred_language": "hi",
}


def test_registering_from_the_sign_in_page_comes_back_to_the_chosen_time(
    client, slots, django_capture_on_commit_callbacks
):
    confirm = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    # Signed out, the chosen time sends the visitor to sign in, who has no number yet.
    signin = client.get(confirm, follow=True)
    assert signin.redirect_chain[-1][0] == f"{reverse('applicants:signin')}?next={confirm}"
    register = f"{reverse('applicants:register')}?{urlencode({'next': confirm})}"
    # Both ways to register (the header's and the page's) carry the time on.
    assert signin.content.decode().count(f'href="{register}"') == 2

    page = client.get(register)
    assert f'name="next" value="{confirm}"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        welcome = client.post(
            reverse("applicants:register"), {**REGISTRATION, "next": confirm}, follow=True
        )
    assert welcome.redirect_chain[-1][0] == (
        f"{reverse('applicants:welcome')}?{urlencode({'next': confirm})}"
    )
    # The code form under the new number carries the time on; the right code lands on it.
    assert f'name="next" value="{confirm}"' in welcome.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("applicants:verify_mobile"),
            {"code": code_sent_to(MOBILE), "next": confirm},
            follow=True,
        )
    assert done.redirect_chain[-1][0] == confirm
    assert done.status_code == 200
    assert 'name="next"' not in done.content.decode().split("<main", 1)[1]
    assert Applicant.objects.get().mobile_verified_at is not None


def test_registering_keeps_no_foreign_next(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("applicants:register"), {**REGISTRATION, "next": "https://evil.example/"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("applicants:welcome")


def test_welcome_without_a_code_to_enter_links_to_the_chosen_time(client, applicant, slots):
    sign_in(client, applicant)  # verified already
    confirm = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    html = client.get(reverse("applicants:welcome"), {"next": confirm}).content.decode()
    assert f'id="continue" href="{confirm}"' in html


@pytest.fixture
def past_slot(bhopal_photo):
    yesterday = timezone.localdate() - timedelta(days=1)
    return SlotFactory(offering=bhopal_photo, starts_at=local_dt(yesterday, 10), capacity=4)


@pytest.mark.parametrize(
    ("language", "title", "link"),
    [
        ("en", "This time has passed", "Choose a day in the calendar"),
        ("hi", "यह समय निकल चुका है", "कैलेंडर में कोई दिन चुनें"),
    ],
)
def test_a_past_time_says_it_has_passed_without_a_confirm_button(
    client, applicant, past_slot, language, title, link
):
    sign_in(client, applicant)
    client.cookies.load({"django_language": language})
    response = client.get(reverse("applicants:book_confirm", args=[past_slot.pk]))
    html = response.content.decode()
    assert response.status_code == 410
    assert f"<h1>{title}</h1>" in html
    assert link in html
    assert f'href="{reverse("applicants:book_days", args=["MP-04", "photo-biometrics"])}"' in html
    assert 'type="submit" class="primary"' not in html
    assert "Confirm your booking" not in html


def test_moving_to_a_past_time_says_it_has_passed(client, applicant, slots, past_slot):
    booking = BookingFactory(applicant=applicant, slot=slots[(3, 10, 0)])
    sign_in(client, applicant)
    response = client.get(
        reverse("applicants:reschedule_confirm", args=[booking.reference, past_slot.pk])
    )
    assert response.status_code == 410
    assert "Yes, move my booking" not in response.content.decode()
    assert reverse("applicants:reschedule_days", args=[booking.reference]) in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("language", "title"), [("en", "This day has passed"), ("hi", "यह दिन निकल चुका है")]
)
def test_a_past_day_says_it_has_passed_in_the_visitors_language(client, slots, language, title):
    yesterday = timezone.localdate() - timedelta(days=1)
    response = client.get(
        reverse("applicants:book_times", args=["MP-04", "photo-biometrics", yesterday]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    html = response.content.decode()
    assert response.status_code == 410
    assert f'<html lang="{language}">' in html
    assert f"<h1>{title}</h1>" in html
    assert f'href="{reverse("applicants:book_days", args=["MP-04", "photo-biometrics"])}"' in html


def test_a_past_day_of_a_move_links_to_the_moves_calendar(client, applicant, slots):
    booking = BookingFactory(applicant=applicant, slot=slots[(3, 10, 0)])
    sign_in(client, applicant)
    response = client.get(
        reverse("applicants:reschedule_times", args=[booking.reference, day_ahead(-2)])
    )
    assert response.status_code == 410
    assert reverse("applicants:reschedule_days", args=[booking.reference]) in (
        response.content.decode()
    )


def test_a_day_beyond_the_calendar_is_still_not_found(client, slots):
    response = client.get(
        reverse("applicants:book_times", args=["MP-04", "photo-biometrics", day_ahead(400)])
    )
    assert response.status_code == 404
