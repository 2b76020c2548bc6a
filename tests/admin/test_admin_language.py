"""The admin speaks the clerk's language: the switch in its header, the same cookie as the site."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_clerk_switches_the_admin_to_hindi_and_back(bhopal_client):
    index = reverse("admin:index")
    english = bhopal_client.get(index, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english and "Recent actions" in english
    assert 'id="admin-language"' in english and 'value="hi" lang="hi">हिन्दी</button>' in english

    switched = bhopal_client.post(
        reverse("set_language"), {"language": "hi", "next": index}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert switched.status_code == 302 and switched.url == index
    hindi = bhopal_client.get(index, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="hi"' in hindi and "हाल की कार्रवाइयाँ" in hindi
    assert "आरटीओ स्लॉट बुकिंग" in hindi and "Recent actions" not in hindi
    assert 'value="en" lang="en">English</button>' in hindi

    bhopal_client.post(reverse("set_language"), {"language": "en", "next": index})
    assert "Recent actions" in bhopal_client.get(index).content.decode()
