"""The one-tap cancel link: signed, bound to its reference, and it expires."""

from django.core import signing

from slots.links import ONE_TAP_CANCEL_SALT, one_tap_cancel_reference, one_tap_cancel_url


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
