"""Links to a booking sent to applicants by SMS and e-mail.

The one-tap "I can't come" link in the reminder carries the booking reference signed with a
timestamp, so the (later) cancel page can trust it without a sign-in, and an old or edited link
is refused. The salt keeps these tokens from being valid for any other signed value.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

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


# --- The reminder's two one-tap links ("I'll come", "I can't come") ---------------------------
# Both go in one SMS (a Hindi one has 201 characters in three parts), so they are short:
# `<SITE_URL>/yes/<reference><signature>`, the signature 12 URL-safe characters (72 bits of an
# HMAC-SHA256 keyed by SECRET_KEY, salted per action so a "yes" link never works as a "no").
# No timestamp: a link is only good while its booking is active and its time is ahead, which
# the pages check; SECRET_KEY_FALLBACKS keep links valid across a key rotation.
REMINDER_LINK_ACTIONS = {"yes": "slots.links.reminder-yes", "no": "slots.links.reminder-no"}
REMINDER_SIGNATURE_LENGTH = 12


def _reminder_signature(action: str, reference: str, secret: str) -> str:
    digest = salted_hmac(
        REMINDER_LINK_ACTIONS[action], reference, secret=secret, algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def reminder_link_token(*, action: str, reference: str) -> str:
    """The last part of a reminder link: the reference and its signature for `action`."""
    return reference + _reminder_signature(action, reference, settings.SECRET_KEY)


def reminder_link_url(*, action: str, reference: str) -> str:
    """The one-tap link `action` ("yes": I'll come, "no": I can't come) for a booking."""
    return f"{settings.SITE_URL}/{action}/{reminder_link_token(action=action, reference=reference)}"


def reminder_link_reference(*, action: str, token: str) -> str | None:
    """The reference a reminder link's token was made for, or None when forged or edited."""
    if action not in REMINDER_LINK_ACTIONS or not 0 < len(token) - REMINDER_SIGNATURE_LENGTH <= 16:
        return None
    if not token.isascii() or not token.isprintable():
        return None  # ours are letters, digits, "-" and "_"; no NUL or surrogate reaches SQL
    reference, signature = token[:-REMINDER_SIGNATURE_LENGTH], token[-REMINDER_SIGNATURE_LENGTH:]
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        if constant_time_compare(signature, _reminder_signature(action, reference, secret)):
            return reference
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
