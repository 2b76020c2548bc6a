"""No English left where a Hindi reader looks: applicant pages, the clerk's admin, SMS, e-mail.

Each page is fetched in Hindi, its scripts and styles stripped, and every Latin-script word of
what a person reads (text, and the title, alt, placeholder, aria-label and button texts) is
compared against an explicit allow-list: codes (MP-04, RTO, SMS, QR), the names and numbers of
the people and bookings in the data, addresses and links. Text marked as another language
(`lang="en"`, e.g. "English" in the language switcher) is skipped: it is English on purpose.
A word not allowed fails the test with the page and the words around it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from applicants.views import APPLICANT_SESSION_KEY
from notifications.models import ACCOUNT_KINDS, Notification
from notifications.rendering import render_notification
from slots.links import reminder_link_url
from slots.models import Booking, Outage, Service, WaitlistEntry
from slots.services.bookings import booking_create
from slots.services.waitlist import waitlist_join
from tests.admin.conftest import day_slots, ensure_groups, record_outage
from tests.factories import ApplicantFactory, daily_sessions

pytestmark = pytest.mark.django_db

# Words a Hindi page may hold in Latin script: codes and names that are the same in both
# languages. Everything else must be Hindi.
ALLOWED_WORDS = {
    "RTO",  # part of the office codes' and the product's vocabulary, also in Hindi texts
    "SMS",
    "QR",
    "OTP",
    "API",
    "ics",  # the calendar file's name (calendar.ics)
    "English",  # the language's own name, in the language choices
    "Control",  # the keys named in Django's "hold down Control, or Command on a Mac"
    "Command",
    "Mac",
    "OK",  # the browser's own button named in a confirmation
    "NUL",
    "URL",
    "IST",  # India Standard Time, as the footer names it beside "भारतीय समय"
}
# Whole tokens removed before the words are looked at.
ALLOWED_PATTERNS = [
    re.compile(r"https?://\S+"),  # links
    # Paths shown as text (POST /api/v1/applicants/recover/): two slashes at least.
    re.compile(r"(?<!\S)/[A-Za-z0-9\-._~%]+/[A-Za-z0-9\-._~/?=&%:]*"),
    re.compile(r"[\w.+\-]+@[\w\-]+(\.[\w\-]+)+"),  # e-mail addresses
    re.compile(r"\b[A-Z]{2}-\d{2,}\b"),  # office codes: MP-04
    re.compile(r"\+?\d*x{2,}\d*"),  # a masked mobile: +91 98xxxxxx12
    # Ids and references, each part with a digit: AB12CD, 9-c1b1267 (but "30-day" is a word).
    re.compile(r"\b[A-Za-z0-9]*\d[A-Za-z0-9]*(?:-[A-Za-z0-9]*\d[A-Za-z0-9]*)*\b"),
]


class _ReadText(HTMLParser):
    """What a person reads of a page: text outside scripts and styles, and the attributes that
    are read out or shown (alt, title, placeholder, aria-label, a button's value)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    READ_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.parts: list[str] = []

    def _skipping(self) -> bool:
        return any(skipped for _tag, skipped in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        lang = attributes.get("lang")
        skipped = tag in ("script", "style", "template", "svg") or bool(
            lang and not lang.startswith("hi")
        )
        if tag not in self.VOID:
            self.stack.append((tag, skipped))
        if skipped or self._skipping():
            return
        for name in self.READ_ATTRIBUTES:
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            self.parts.append(attributes.get("value") or "")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not self._skipping():
            self.parts.append(data)


def read_text(html: str) -> str:
    parser = _ReadText()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def english_words(text: str, allowed: set[str]) -> list[str]:
    """The Latin-script words of `text` not allowed, each with what stands around it."""
    for pattern in ALLOWED_PATTERNS:
        text = pattern.sub(" ", text)
    found = []
    for match in re.finditer(r"[A-Za-z]+", text):
        if match.group() not in allowed and match.group() not in ALLOWED_WORDS:
            around = text[max(0, match.start() - 30) : match.end() + 30]
            found.append(f"{match.group()!r} in …{around}…")
    return found


def data_words() -> set[str]:
    """The names, numbers and references of the data: allowed wherever they appear."""
    from django.contrib.auth import get_user_model

    from applicants.models import Applicant

    words: set[str] = set()
    for name in Applicant.objects.values_list("full_name", flat=True):
        words.update(re.findall(r"[A-Za-z]+", name))
    for username in get_user_model().objects.values_list("username", flat=True):
        words.update(re.findall(r"[A-Za-z]+", username))
    for reference in Booking.objects.values_list("reference", flat=True):
        words.update(re.findall(r"[A-Za-z]+", reference))
    return words


# --- The data a Hindi applicant and a Hindi clerk see ---------------------------------------


@pytest.fixture
def scene(bhopal, photo, driving, bhopal_photo, clerk_bhopal):
    """A week of Bhopal photo slots; a Hindi applicant with a booking, another moved by an
    outage of the day after tomorrow (with a booking on hold nowhere: the outage has an end),
    a waiting-list entry; a Hindi-speaking clerk of Bhopal in the Clerk group."""
    from django.contrib.auth.models import Group

    ensure_groups()
    clerk_bhopal.groups.add(Group.objects.get(name="Clerk"))
    bhopal.address_hi = "कोकता ट्रांसपोर्ट नगर, भोपाल"
    bhopal.save()
    daily_sessions(bhopal_photo, seats=2, reserve=0)
    from slots.services.slot_generation import slots_generate

    slots_generate(first_day=timezone.localdate(), days=8)
    today = timezone.localdate()
    hindi = ApplicantFactory(
        full_name="सुनीता वर्मा", preferred_language="hi", email="sunita@example.in"
    )
    moved = ApplicantFactory(full_name="राम प्रसाद", preferred_language="hi")
    with TestCase.captureOnCommitCallbacks(execute=True):
        booking = booking_create(
            applicant=hindi, slot_id=day_slots(bhopal_photo, today + timedelta(days=4))[0].pk
        )
        moved_booking = booking_create(
            applicant=moved, slot_id=day_slots(bhopal_photo, today + timedelta(days=2))[0].pk
        )
    outage = record_outage(
        [bhopal], today + timedelta(days=2), services=[photo], acting_user=clerk_bhopal
    )
    waiting = ApplicantFactory(full_name="गीता देवी", preferred_language="hi")
    with TestCase.captureOnCommitCallbacks(execute=True):
        waitlist_join(
            applicant=waiting,
            office=bhopal,
            service=photo,
            date_from=today + timedelta(days=1),
            date_to=today + timedelta(days=6),
        )
    return {
        "booking": booking,
        "moved": Booking.objects.get(pk=moved_booking.pk),
        "outage": Outage.objects.get(pk=outage.pk),
        "applicant": hindi,
        "clerk": clerk_bhopal,
        "day": today + timedelta(days=2),
    }


def hindi_client() -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="hi")
    client.cookies["django_language"] = "hi"
    return client


def signed_in(applicant) -> Client:
    client = hindi_client()
    session = client.session
    session[APPLICANT_SESSION_KEY] = applicant.pk
    session.save()
    return client


def assert_hindi(pages: dict[str, str]) -> None:
    allowed = data_words()
    problems = {
        name: words for name, html in pages.items() if (words := english_words(html, allowed))
    }
    assert not problems, "English on Hindi pages:\n" + "\n".join(
        f"{name}: {words[:8]}" for name, words in problems.items()
    )


def fetched(client: Client, url: str, *, data=None, status=(200,)) -> str:
    response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code in status, (url, response.status_code)
    html = response.content.decode()
    assert '<html lang="hi"' in html, f"{url} is not in Hindi"
    return read_text(html)


# --- The tests --------------------------------------------------------------------------------


def test_applicant_pages_have_no_english(scene, bhopal_photo):
    booking = scene["booking"]
    day = timezone.localdate() + timedelta(days=5)
    slot = day_slots(bhopal_photo, day)[0]
    anonymous = hindi_client()
    applicant = signed_in(scene["applicant"])
    moved = signed_in(scene["moved"].applicant)
    service = Service.PHOTO_BIOMETRICS
    pages = {
        url: fetched(anonymous, url)
        for url in (
            reverse("home"),
            reverse("applicants:register"),
            reverse("applicants:signin"),
            reverse("applicants:recover"),
            reverse("applicants:book_offices"),
            reverse("applicants:book_services", args=["MP-04"]),
            reverse("applicants:book_days", args=["MP-04", service]),
            reverse("applicants:book_times", args=["MP-04", service, day.isoformat()]),
        )
    }
    pages["404"] = fetched(anonymous, "/no-such-page/", status=(404,))
    pages["register, errors"] = fetched(
        anonymous,
        reverse("applicants:register"),
        data={"email": "not-an-address", "mobile": "123"},
        status=(200, 400),
    )
    for url in (
        reverse("applicants:my_bookings"),
        reverse("applicants:my_details"),
        reverse("applicants:booking_slip", args=[booking.reference]),
        reverse("applicants:cancel", args=[booking.reference]),
        reverse("applicants:reschedule_days", args=[booking.reference]),
        reverse("applicants:book_confirm", args=[slot.pk]),
        reverse("applicants:waitlist_join", args=["MP-04", service]),
        reminder_link_url(reference=booking.reference, action="yes"),
        reminder_link_url(reference=booking.reference, action="no"),
    ):
        pages[url] = fetched(applicant, url.replace("http://127.0.0.1:8000", ""))
    pages["my bookings after an outage"] = fetched(moved, reverse("applicants:my_bookings"))
    assert_hindi(pages)


def test_the_clerks_admin_pages_have_no_english(scene):
    clerk = hindi_client()
    clerk.force_login(scene["clerk"])
    booking, outage, day = scene["booking"], scene["outage"], scene["day"]
    applicant = scene["applicant"]
    entry = WaitlistEntry.objects.get()
    outage_id = outage.pk
    pages = {
        url: fetched(clerk, url)
        for url in (
            reverse("admin:index"),
            reverse("admin:slots_booking_changelist"),
            reverse("admin:slots_booking_change", args=[booking.pk]),
            reverse("admin:slots_booking_change", args=[scene["moved"].pk]),
            reverse("admin:slots_booking_history", args=[booking.pk]),
            reverse("admin:slots_booking_day_sheet")
            + f"?office=MP-04&date={day.isoformat()}&service=photo-biometrics",
            reverse("admin:slots_booking_day_sheet")
            + f"?office=MP-04&date={(day + timedelta(days=1)).isoformat()}"
            "&service=photo-biometrics",
            reverse("admin:slots_booking_call_list") + "?office=MP-04",
            reverse("admin:slots_booking_no_shows"),
            reverse("admin:slots_outage_changelist"),
            reverse("admin:slots_outage_add"),
            reverse("admin:slots_outage_change", args=[outage_id]),
            reverse("admin:slots_outage_history", args=[outage_id]),
            reverse("admin:slots_outage_resolve", args=[outage_id]),
            reverse("admin:slots_outage_undo", args=[outage_id]),
            reverse("admin:slots_waitlistentry_changelist"),
            reverse("admin:slots_waitlistentry_change", args=[entry.pk]),
            reverse("admin:slots_offer_changelist"),
            reverse("admin:slots_slot_changelist"),
            reverse("admin:slots_closure_changelist"),
            reverse("admin:slots_offering_changelist"),
            reverse("admin:slots_extrasession_changelist"),
            reverse("admin:slots_service_changelist"),
            reverse("admin:applicants_applicant_changelist"),
            reverse("admin:applicants_applicant_change", args=[applicant.pk]),
            reverse("admin:notifications_notification_changelist"),
            reverse(
                "admin:notifications_notification_change",
                args=[Notification.objects.filter(booking=booking).first().pk],
            ),
            reverse("admin:monitoring_outageproposal_changelist"),
            reverse("admin:password_change"),
        )
    }
    pages["login"] = fetched(hindi_client(), reverse("admin:login"))
    start = timezone.localtime() + timedelta(days=3)
    pages["outage preview"] = fetched(
        clerk,
        reverse("admin:slots_outage_add"),
        data={
            "offices": [booking.office_id],
            "services": [booking.service_id],
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "expected_end": (start + timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M"),
            "capacity_percent": "0",
            "standard_reason": "photo-capture",
            "reason": "",
            "reason_hi": "",
            "_preview": "1",
        },
    )
    pages["outage form, errors"] = fetched(
        clerk, reverse("admin:slots_outage_add"), data={"_preview": "1"}, status=(200, 400)
    )
    assert "पुष्टि करें और बुकिंग बदलें" in pages["outage preview"]  # the preview, not the form
    assert_hindi(pages)


def _sample_context(booking: Booking, outage: Outage, *, partial: bool, false_alarm: bool):
    """A message's JSON context as slots.messages writes it, for any kind."""
    site = "http://127.0.0.1:8000"
    slot = booking.slot
    return {
        "reference": booking.reference,
        "full_name": booking.applicant.full_name,
        "office": {"code": "MP-04", "name": booking.office.name, "name_hi": booking.office.name_hi},
        "service": {
            "slug": booking.service.slug,
            "name": booking.service.name,
            "name_hi": booking.service.name_hi,
        },
        "slot": {"starts_at": slot.starts_at.isoformat(), "ends_at": slot.ends_at.isoformat()},
        "from_starts_at": (slot.starts_at - timedelta(days=1)).isoformat(),
        "to_starts_at": slot.starts_at.isoformat(),
        "outage": {
            "id": outage.pk,
            "reason": outage.reason,
            "reason_hi": outage.reason_hi,
            "capacity_percent": 50 if partial else 0,
        },
        "links": {
            "booking": f"{site}/my/bookings/{booking.reference}/",
            "cancel": reminder_link_url(reference=booking.reference, action="no"),
            "confirm": reminder_link_url(reference=booking.reference, action="yes"),
            "offer": f"{site}/my/offers/1:abc:def/",
        },
        "release_at": (slot.starts_at - timedelta(hours=2)).isoformat(),
        "expires_at": (timezone.now() + timedelta(minutes=15)).isoformat(),
        "false_alarm": false_alarm,
        "minutes": 10,
        "application_number": booking.applicant.application_number,
    }


def _message_texts(rendered) -> list[str]:
    return [rendered.subject, rendered.body, read_text(rendered.body_html or "")]


def test_every_hindi_sms_and_email_has_no_english(scene):
    from notifications.sealing import seal

    booking, outage = scene["booking"], scene["outage"]
    allowed = data_words()
    problems = []
    # The rows the scene really wrote (booked, moved by the outage, the waiting list)...
    rows = list(Notification.objects.filter(language="hi"))
    assert {row.kind for row in rows} >= {"booking_confirmed", "rescheduled_outage"}
    for row in rows:
        rendered = render_notification(
            kind=row.kind, channel=row.channel, language="hi", context=row.context
        )
        for text in _message_texts(rendered):
            problems += [f"{row.kind}/{row.channel}: {w}" for w in english_words(text, allowed)]
    # ...and every kind, on both channels, in each of its variants.
    for partial in (False, True):
        for false_alarm in (False, True):
            context = _sample_context(booking, outage, partial=partial, false_alarm=false_alarm)
            context["code_sealed"] = seal("987654")
            for kind in Notification.Kind.values:
                channels = ["sms"] if kind in ACCOUNT_KINDS else Notification.Channel.values
                for channel in channels:
                    rendered = render_notification(
                        kind=kind, channel=channel, language="hi", context=context
                    )
                    assert rendered.body.strip(), (kind, channel)
                    for text in _message_texts(rendered):
                        problems += [f"{kind}/{channel}: {w}" for w in english_words(text, allowed)]
    assert not problems, "English in Hindi messages:\n" + "\n".join(sorted(set(problems))[:20])


def test_the_check_finds_an_english_word():
    """The check itself: a page with one English word in its text, a button or an alt text
    fails; the same words marked lang="en", in a script, or in a link pass."""
    assert english_words(read_text("<p>बुकिंग पक्की</p>"), set()) == []
    assert english_words(read_text("<p>बुकिंग Confirmed</p>"), set())
    assert english_words(read_text('<input type="submit" value="Save">'), set())
    assert english_words(read_text('<img src="x.svg" alt="True">'), set())
    assert english_words(read_text("<title>Select booking to change</title>"), set())
    assert not english_words(read_text('<option lang="en" value="en">English mode</option>'), set())
    assert not english_words(read_text("<script>var x = 'Hello';</script><p>नमस्ते</p>"), set())
    assert not english_words(
        read_text("<p>MP-04 https://rto.example.in/my/bookings/AB12CD/ देखें</p>"), set()
    )
    assert not english_words(read_text("<p>Ramesh Kumar</p>"), {"Ramesh", "Kumar"})
    found = english_words(read_text("<p>30-day window, Yes/No</p>"), set())
    assert [item.split("'")[1] for item in found] == ["day", "window", "Yes", "No"]
    assert not english_words(read_text("<p>AB12CD 9-c1b1267 POST /api/v1/x/</p>"), {"POST"})
