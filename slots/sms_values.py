"""The longest values this product's SMS carry, for DLT's 30-character variable check
(notifications.dlt.length_problems; registered in slots.apps)."""

from __future__ import annotations

from django.conf import settings

from notifications.dlt import LongestValues
from slots.outage_reasons import STANDARD_REASONS
from slots.services.demo import OFFICES, SERVICES

# No demo office has a long name; the longest an MP office has (the district's two names).
LONGEST_OFFICE = ("RTO Narmadapuram (Hoshangabad)", "आरटीओ नर्मदापुरम (होशंगाबाद)")
# A clerk's reason typed in full (the SMS shows its first SMS_REASON_MAX characters at most).
LONG_TYPED_REASON = (
    "Sarathi licence server of NIC down since morning; photo capture machine at counter 2 "
    "also not working, engineers on the way",
    "एनआईसी का सारथी लाइसेंस सर्वर सुबह से बंद है; काउंटर 2 की फोटो कैप्चर मशीन भी नहीं चल "
    "रही, इंजीनियर आ रहे हैं",
)


def _longest(pairs) -> tuple[tuple[str, str], tuple[str, str]]:
    """The pair with the longest English and the pair with the longest Hindi."""
    pairs = list(pairs)
    return (
        max(pairs, key=lambda pair: len(pair[0])),
        max(pairs, key=lambda pair: len(pair[1])),
    )


def sms_longest_values() -> LongestValues:
    """From the catalogue the product seeds and its standard outage reasons (no database)."""
    return LongestValues(
        offices=_longest([(office[1], office[2]) for office in OFFICES] + [LONGEST_OFFICE]),
        services=_longest((service.name, service.name_hi) for service in SERVICES),
        reasons=(*((reason.en, reason.hi) for reason in STANDARD_REASONS), LONG_TYPED_REASON),
        reference="MP04PB7XK2Q9ZT3W",  # 16 characters, the most a reference has
        # A production-length address (tests and development run on a short local one).
        site_url=max(settings.SITE_URL, "https://rtoslot.mp.gov.in", key=len),
    )
