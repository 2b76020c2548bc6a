import pytest
from django.urls import reverse

from slots.models import Outage
from tests.factories import OfferingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(bhopal, indore, photo, driving):
    for office in (bhopal, indore):
        for service in (photo, driving):
            OfferingFactory(office=office, service=service)


def test_home_lists_offices_and_services_in_english(client, catalogue):
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "MP-04" in html and "RTO Bhopal" in html and "RTO Indore" in html
    assert "Photo and biometrics" in html and "Driving test" in html
    assert '<html lang="en">' in html


def test_home_speaks_hindi_when_the_browser_asks(client, catalogue):
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="hi")
    html = response.content.decode()
    assert '<html lang="hi">' in html
    assert "आरटीओ भोपाल" in html and "फोटो और बायोमेट्रिक" in html
    assert "कार्यालय" in html  # the "Offices" heading, translated


def test_home_shows_an_active_outage_notice(client, catalogue, bhopal, photo):
    from django.utils import timezone

    outage = Outage.objects.create(
        reason="Photo-capture server down",
        expected_end=timezone.now() + timezone.timedelta(hours=6),
    )
    outage.offices.add(bhopal)
    outage.services.add(photo)
    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Photo-capture server down" in html
    assert html.index("Photo-capture server down") > html.index("MP-04")
    assert html.index("Photo-capture server down") < html.index("MP-09")


def test_home_runs_a_fixed_number_of_queries(client, catalogue, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        client.get(reverse("home"))


NOTICES = {
    "open_ended": {
        "en": ["Until further notice. Affected applicants are told not to come"],
        "hi": ["अगली सूचना तक। प्रभावित आवेदकों को न आने की सूचना दी गई है"],
    },
    "partial": {
        "en": ["Running at 25 per cent of its seats.", "Expected back by"],
        "hi": ["अपनी सीटों के 25 प्रतिशत पर चल रही है।", "तक सेवा बहाल होने की उम्मीद है"],
    },
}


def _notice_outage(kind, bhopal, photo, *, reason_hi="फोटो कैप्चर मशीन खराब"):
    from django.utils import timezone

    outage = Outage.objects.create(
        reason="Photo-capture machine broken",
        reason_hi=reason_hi,
        starts_at=timezone.now() - timezone.timedelta(hours=1),
        expected_end=None if kind == "open_ended" else timezone.now() + timezone.timedelta(hours=6),
        capacity_percent=25 if kind == "partial" else 0,
    )
    outage.offices.add(bhopal)
    outage.services.add(photo)
    return outage


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", ["open_ended", "partial"])
@pytest.mark.parametrize(
    "url", [reverse("home"), reverse("applicants:book_services", args=["MP-04"])]
)
def test_public_notice_shows_open_ended_and_partial_outages(
    client, catalogue, bhopal, photo, kind, language, url
):
    _notice_outage(kind, bhopal, photo)
    html = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    notice = html.split('class="notice outage"', 1)[1].split("</div>", 1)[0]
    reason = "Photo-capture machine broken" if language == "en" else "फोटो कैप्चर मशीन खराब"
    service = "Photo and biometrics" if language == "en" else "फोटो और बायोमेट्रिक"
    assert reason in notice and service in notice
    for text in NOTICES[kind][language]:
        assert text in notice, (text, notice)
    if kind == "open_ended" and language == "en":
        assert "Expected back" not in notice
    if language == "hi":
        assert "Photo" not in notice


def test_public_notice_in_hindi_never_shows_the_english_reason(client, catalogue, bhopal, photo):
    _notice_outage("open_ended", bhopal, photo, reason_hi="")
    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    notice = html.split('class="notice outage"', 1)[1].split("</div>", 1)[0]
    assert "Photo-capture" not in notice and "तकनीकी खराबी" in notice
