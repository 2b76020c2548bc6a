"""Hindi and English: Accept-Language by default, the switcher overrides, nothing untranslated."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

PO_FILE = Path(settings.BASE_DIR) / "locale" / "hi" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_hindi_translation():
    catalogue = polib.pofile(str(PO_FILE))
    missing = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert not missing, f"untranslated: {missing[:10]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:10]}"


@pytest.mark.parametrize(
    "url_name, english, hindi",
    [
        ("applicants:register", "Register", "पंजीकरण"),
        ("applicants:signin", "Application number", "आवेदन संख्या"),
        ("applicants:book_offices", "Choose an office", "कार्यालय चुनें"),
    ],
)
def test_public_pages_follow_the_browser_language(client, slots, url_name, english, hindi):
    en = client.get(reverse(url_name), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    hi = client.get(reverse(url_name), HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert '<html lang="en">' in en and english in en
    assert '<html lang="hi">' in hi and hindi in hi and english not in hi


def test_booking_flow_pages_in_hindi(client, slots):
    html = client.get(
        reverse("applicants:book_days", args=["MP-04", "photo-biometrics"]),
        HTTP_ACCEPT_LANGUAGE="hi",
    ).content.decode()
    assert "दिन चुनें" in html and "फोटो और बायोमेट्रिक" in html and "आरटीओ भोपाल" in html
    assert "सीटें खाली" in html


def test_my_bookings_in_hindi(applicant_client, applicant, slots):
    from slots.services.bookings import booking_create

    booking_create(applicant=applicant, slot_id=slots[(3, 10, 0)].pk)
    html = applicant_client.get(
        reverse("applicants:my_bookings"), HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "मेरी बुकिंग" in html and "साइन आउट" in html and "पक्की" in html


def test_the_switcher_overrides_the_browser_language(client, slots):
    response = client.post(
        reverse("set_language"),
        {"language": "hi", "next": reverse("applicants:signin")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    html = client.get(reverse("applicants:signin"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="hi">' in html
    # The switcher offers the other language, labelled in that language.
    assert 'value="en" lang="en"' in html


def test_form_errors_come_in_hindi(client):
    html = client.post(
        reverse("applicants:register"), {"mobile": "123"}, HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "यह भरना ज़रूरी है।" in html  # Django's "This field is required.", in our Hindi
    assert "मोबाइल" in html
