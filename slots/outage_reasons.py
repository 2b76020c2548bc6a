"""Standard outage reasons, in English and Hindi, so no English reaches a Hindi page or SMS.

A clerk marking a service down in the admin picks one of these (or types both languages);
the API's `reason_hi` stays optional, and when it is absent the Hindi is the standard phrase
matching the English reason, else the usual one for the service, else "technical fault"
(`outage_reason_hi_default`). Constants in code: adding a phrase needs no migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class StandardReason:
    key: str
    en: str
    hi: str
    label: object  # the choice's label in the admin's language


STANDARD_REASONS = (
    StandardReason(
        "server-down",
        "Licence server (Sarathi) down",
        "लाइसेंस सर्वर (सारथी) बंद",
        _("Licence server (Sarathi) down"),
    ),
    StandardReason(
        "photo-capture",
        "Photo-capture machine not working",
        "फोटो कैप्चर मशीन काम नहीं कर रही",
        _("Photo-capture machine not working"),
    ),
    StandardReason(
        "biometric-device",
        "Biometric device not working",
        "बायोमेट्रिक मशीन काम नहीं कर रही",
        _("Biometric device not working"),
    ),
    StandardReason("network", "Network outage", "नेटवर्क बंद", _("Network outage")),
    StandardReason("power", "Power cut", "बिजली कटौती", _("Power cut")),
    StandardReason(
        "test-track",
        "Driving test track not available",
        "ड्राइविंग टेस्ट ट्रैक उपलब्ध नहीं",
        _("Driving test track not available"),
    ),
)
STANDARD_REASONS_BY_KEY = {reason.key: reason for reason in STANDARD_REASONS}

# What usually stops each service (slug): its Hindi when nothing better is known.
SERVICE_DEFAULT_REASON = {
    "learner-test": "server-down",
    "driving-test": "server-down",
    "document-verification": "server-down",
    "photo-biometrics": "photo-capture",
}
TECHNICAL_FAULT_HI = "तकनीकी खराबी"


def outage_reason_hi_default(*, reason: str, service_slugs: Iterable[str]) -> str:
    """The Hindi reason of an outage recorded without one: the standard phrase whose English
    is `reason`; else, when every service named has the same usual reason, its Hindi; else
    "तकनीकी खराबी" (technical fault). Never the English text."""
    wanted = " ".join(reason.split()).casefold()
    for standard in STANDARD_REASONS:
        if standard.en.casefold() == wanted:
            return standard.hi
    keys = {SERVICE_DEFAULT_REASON.get(slug) for slug in service_slugs}
    if len(keys) == 1 and (key := keys.pop()):
        return STANDARD_REASONS_BY_KEY[key].hi
    return TECHNICAL_FAULT_HI
