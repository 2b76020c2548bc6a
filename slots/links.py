"""Links to a booking sent to applicants by SMS and e-mail.

The one-tap "I can't come" link in the reminder carries the booking reference signed with a
timestamp, so the (later) cancel page can trust it without a sign-in, and an old or edited link
is refused. The salt keeps these tokens from being valid for any other signed value.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

# The salt is the one the links already sent carry (the module lived in applicants/ then):
# changing it would break every "I can't come" link in people's phones.
ONE_TAP_CANCEL_SALT = "applicants.links.one-tap-cancel"


def booking_url(*, reference: str) -> str:
    """The booking's page, where the applicant sees it and can move or cancel it."""
    return f"{settings.SITE_URL}/my/bookings/{reference}/"


def one_tap_cancel_url(*, reference: str) -> str:
    token = signing.TimestampSigner(salt=ONE_TAP_CANCEL_SALT).sign(reference)
    return f"{settings.SITE_URL}/my/cancel/{token}/"


def one_tap_cancel_reference(*, token: str, max_age_days: int = 40) -> str | None:
    """The reference a token was made for, or None when it is forged, edited or too old."""
    try:
        return signing.TimestampSigner(salt=ONE_TAP_CANCEL_SALT).unsign(
            token, max_age=timedelta(days=max_age_days)
        )
    except signing.BadSignature:  # SignatureExpired is a BadSignature too
        return None


# Its own salt: an offer link is no cancel link, and no other signed value is an offer link.
OFFER_SALT = "slots.links.waitlist-offer"


def offer_path(*, offer_id: int) -> str:
    """The path of a waiting-list offer's page (with Accept and Decline), signed."""
    token = signing.TimestampSigner(salt=OFFER_SALT).sign(str(offer_id))
    return f"/my/offers/{token}/"


def offer_url(*, offer_id: int) -> str:
    """The one-tap link of a waiting-list offer, as the SMS and e-mail carry it."""
    return f"{settings.SITE_URL}{offer_path(offer_id=offer_id)}"


def offer_id_from_token(*, token: str, max_age_days: int = 7) -> int | None:
    """The offer a token was made for, or None when it is forged, edited or too old."""
    try:
        return int(
            signing.TimestampSigner(salt=OFFER_SALT).unsign(
                token, max_age=timedelta(days=max_age_days)
            )
        )
    except (signing.BadSignature, ValueError):
        return None
