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
