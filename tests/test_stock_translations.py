"""The project's Hindi for Django's own texts: kept by makemessages, complete, and winning.

`rto_booking/stock_strings.py` names every Django msgid the project translates, so
`makemessages` keeps them in `locale/hi/LC_MESSAGES/django.po`; `LOCALE_PATHS` is merged after the
apps' catalogues, so they replace Django's Hindi. The admin's JavaScript texts are in the
hand-written `djangojs.po`.
"""

from __future__ import annotations

from pathlib import Path

import django
import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale" / "hi" / "LC_MESSAGES"
DJANGO = Path(django.__file__).parent
STOCK_MODULE = "rto_booking/stock_strings.py"


def _ours(domain: str) -> dict:
    return {(e.msgctxt, e.msgid): e for e in polib.pofile(str(LOCALE / f"{domain}.po"))}


def _translated(entry) -> bool:
    if entry.msgid_plural:
        return all(entry.msgstr_plural.values())
    return bool(entry.msgstr) and "fuzzy" not in entry.flags


def test_every_text_of_djangos_admin_has_the_projects_hindi():
    # A Django upgrade that adds an admin text, or a catalogue regenerated without
    # stock_strings.py, fails here.
    ours = _ours("django")
    admin = polib.pofile(str(DJANGO / "contrib/admin/locale/en/LC_MESSAGES/django.po"))
    missing = [
        e.msgid
        for e in admin
        if not e.obsolete
        and not ((e.msgctxt, e.msgid) in ours and _translated(ours[e.msgctxt, e.msgid]))
    ]
    assert not missing, f"add to {STOCK_MODULE} and translate: {missing[:10]}"


def test_every_javascript_text_of_djangos_admin_has_the_projects_hindi():
    ours = _ours("djangojs")
    admin = polib.pofile(str(DJANGO / "contrib/admin/locale/en/LC_MESSAGES/djangojs.po"))
    missing = [
        e.msgid
        for e in admin
        if not ((e.msgctxt, e.msgid) in ours and _translated(ours[e.msgctxt, e.msgid]))
    ]
    assert not missing, f"add to locale/hi/LC_MESSAGES/djangojs.po: {missing[:10]}"


def test_the_projects_hindi_wins_over_djangos():
    entries = [
        e
        for e in polib.pofile(str(LOCALE / "django.po"))
        if any(path == STOCK_MODULE for path, _line in e.occurrences)
    ]
    assert len(entries) > 250
    with translation.override("hi"):
        for e in entries:
            if e.msgid_plural:
                assert translation.ngettext(e.msgid, e.msgid_plural, 1) == e.msgstr_plural[0]
                assert translation.ngettext(e.msgid, e.msgid_plural, 5) == e.msgstr_plural[1]
            elif e.msgctxt:
                assert translation.pgettext(e.msgctxt, e.msgid) == e.msgstr
            else:
                assert translation.gettext(e.msgid) == e.msgstr, e.msgid
        # The wrong and stiff stock Hindi the issue found is gone.
        assert translation.gettext("Enter a valid email address.") == "सही ई-मेल पता लिखें।"
        assert translation.gettext("This field is required.") == "यह भरना ज़रूरी है।"
        assert translation.gettext("Change %s") == "%s बदलें"
        assert translation.gettext("Select %s to change") == "बदलने के लिए %s चुनें"
        assert translation.gettext("Thu") == "गुरु"


def test_a_bad_email_on_the_register_page_says_email_in_hindi(client):
    html = client.post(
        reverse("applicants:register"), {"email": "not-an-address"}, HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "सही ई-मेल पता लिखें।" in html
    assert "डाक पता" not in html and "अपेक्षित हैं" not in html


def test_the_admins_javascript_catalogue_speaks_the_projects_hindi(client, superuser):
    client.force_login(superuser)
    client.cookies["django_language"] = "hi"
    script = client.get(reverse("admin:jsi18n")).content.decode("utf-8")
    assert "\\u0906\\u0928\\u0947 \\u0935\\u093e\\u0932\\u093e \\u0915\\u0932" in script or (
        "आने वाला कल" in script
    )  # "Tomorrow"
