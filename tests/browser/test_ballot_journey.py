"""The ballot of a newly opened day on a phone-sized screen, in English and in Hindi: the
calendar and the times say until when the day is drawn by lot → "Enter the draw" → My bookings
shows the request → the draw → the result on My bookings (and by SMS).

On the real clock the ballot is made to span today (RELEASE_BALLOT_MINUTES 1440: the day that
opened at midnight is drawn at the next one; the default ten minutes are proven in
tests/slots/test_ballot.py). Screenshots: tests/screenshots/ballot-<language>-NN-<step>.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from slots.errors import InBallot
from slots.models import BallotEntry
from slots.services.ballot_draw import ballots_draw
from slots.services.bookings import booking_create
from tests.browser.test_waitlist_journey import Shots, _phone, _sign_in
from tests.conftest import PHONE
from tests.factories import ApplicantFactory, SlotFactory, local_dt
from tests.sms_outbox import sms_sent


class BallotShots(Shots):
    def __call__(self, step: str) -> None:
        self.step += 1
        self.page.screenshot(
            path=str(self.directory / f"ballot-{self.name}-{self.step:02d}-{step}.png"),
            full_page=True,
        )


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "hi": {
        "name": "सुनीता वर्मा",
        "ballot_open": "लॉटरी 00:00 तक खुली है",
        "enter": "लॉटरी में शामिल हों",
        "my_requests": "लॉटरी में मेरी माँगें",
        "won": "नाम निकला: आपको सीट मिल गई।",
        "lost": "इस बार नाम नहीं निकला।",
    },
    "en": {
        "name": "Ramesh Kumar Sharma",
        "ballot_open": "Ballot open until 00:00",
        "enter": "Enter the draw",
        "my_requests": "My requests in a draw",
        "won": "Drawn: you have a seat.",
        "lost": "Not drawn this time.",
    },
}


@pytest.mark.parametrize("language", ["en", "hi"])
def test_enter_the_draw_of_a_new_day_and_see_the_result_on_a_phone(
    browser, live_server, http_cookies, bhopal_photo, settings, screenshot_dir, language
):
    settings.RELEASE_BALLOT_MINUTES = 24 * 60
    day = timezone.localdate() + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    slot = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10), capacity=1)
    for _ in range(2):  # two others ask for the one seat too
        with pytest.raises(InBallot):
            booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    text = TEXT[language]
    applicant = ApplicantFactory(full_name=text["name"], preferred_language=language)
    context, page = _phone(browser, f"{language}-IN")
    shot = BallotShots(page, language, screenshot_dir)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, live_server.url, applicant)

    page.goto(f"{live_server.url}/book/MP-04/photo-biometrics/")
    assert page.locator(".calendar .ballot").count() == 1
    assert page.locator(".calendar .ballot").inner_text() == text["ballot_open"]
    page.goto(f"{live_server.url}/book/MP-04/photo-biometrics/{day}/")
    assert text["ballot_open"] in page.locator("#ballot").inner_text()
    shot("times")
    page.locator("a.time").first.click()
    assert text["ballot_open"] in page.locator("#ballot").inner_text()
    shot("confirm")
    page.get_by_role("button", name=text["enter"]).click()

    section = page.locator("section#ballot")
    assert section.get_by_role("heading", name=text["my_requests"]).is_visible()
    assert text["ballot_open"] in section.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot("entered")

    # The draw at the close, brought forward to now: its messages are due at once.
    BallotEntry.objects.update(closes_at=timezone.now())
    ballots_draw()

    entry = BallotEntry.objects.get(applicant=applicant)
    page.reload()
    shown = page.locator(f"#ballot-{entry.pk}").inner_text()
    assert text[entry.state] in shown
    kinds = [m["kind"] for m in sms_sent() if m["to"] == applicant.mobile]
    assert kinds[-1] == ("booking_confirmed" if entry.state == "won" else "ballot_lost")
    shot("result")
    assert not errors
    context.close()
