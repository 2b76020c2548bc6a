"""The one-tap links: the older cancel link (signed, bound to its reference, expiring) and the
reminder's short "I'll come" / "I can't come" links (signed per action)."""

from django.core import signing

from slots.links import (
    ONE_TAP_CANCEL_SALT,
    one_tap_cancel_reference,
    one_tap_cancel_url,
    reminder_link_reference,
    reminder_link_url,
)


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_link_round_trips_to_its_reference(settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    url = one_tap_cancel_url(reference="ABCD2345")
    assert url.startswith("https://rtoslot.mp.gov.in/my/cancel/")
    assert one_tap_cancel_reference(token=_token(url)) == "ABCD2345"


def test_edited_token_is_refused():
    token = _token(one_tap_cancel_url(reference="ABCD2345"))
    forged = token.replace("ABCD2345", "ZZZZ9999", 1)
    assert one_tap_cancel_reference(token=forged) is None


def test_token_signed_for_something_else_is_refused():
    other = signing.TimestampSigner(salt="another.purpose").sign("ABCD2345")
    assert one_tap_cancel_reference(token=other) is None


def test_old_token_is_refused():
    signer = signing.TimestampSigner(salt=ONE_TAP_CANCEL_SALT)
    old = signer.sign("ABCD2345")
    assert one_tap_cancel_reference(token=old, max_age_days=40) == "ABCD2345"
    assert one_tap_cancel_reference(token=old, max_age_days=-1) is None


def test_reminder_links_name_their_booking_and_refuse_edits_and_other_actions(settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    yes = reminder_link_url(action="yes", reference="ABCD2345")
    assert yes.startswith("https://rtoslot.mp.gov.in/yes/ABCD2345") and len(yes) <= 54
    token = yes.rsplit("/", 1)[1]
    assert reminder_link_reference(action="yes", token=token) == "ABCD2345"
    assert reminder_link_reference(action="no", token=token) is None
    assert reminder_link_reference(action="maybe", token=token) is None
    for bad in (token[:-1], token + "A", "ABCD2346" + token[8:], "\x00" * 20, "अ" * 20, ""):
        assert reminder_link_reference(action="yes", token=bad) is None


def test_reminder_links_survive_a_secret_key_rotation(settings):
    token = reminder_link_url(action="no", reference="ABCD2345").rsplit("/", 1)[1]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-the-rotation-0123456789abcdefghijklmnop"
    assert reminder_link_reference(action="no", token=token) == "ABCD2345"
    settings.SECRET_KEY_FALLBACKS = []
    assert reminder_link_reference(action="no", token=token) is None
