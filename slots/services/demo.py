"""Demo data: real Madhya Pradesh RTOs with realistic sessions, closures and slots.

`demo_seed` is idempotent: it creates or updates rows by their natural keys, so running it
twice leaves the same rows as running it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from django.conf import settings
from django.db import transaction

from slots.models import Closure, Offering, Office, Service, WeeklySession
from slots.services.slot_generation import SlotGenerationResult, slots_generate

# code, name, name_hi, district, district_hi, address, address_hi, size factor
OFFICES = [
    (
        "MP-04",
        "RTO Bhopal",
        "आरटीओ भोपाल",
        "Bhopal",
        "भोपाल",
        "Regional Transport Office, Kokta Transport Nagar, Bhopal 462022",
        "क्षेत्रीय परिवहन कार्यालय, कोकता ट्रांसपोर्ट नगर, भोपाल 462022",
        2,
    ),
    (
        "MP-09",
        "RTO Indore",
        "आरटीओ इंदौर",
        "Indore",
        "इंदौर",
        "Regional Transport Office, Nayta Mundla, Indore 452020",
        "क्षेत्रीय परिवहन कार्यालय, नायता मुंडला, इंदौर 452020",
        2,
    ),
    (
        "MP-07",
        "RTO Gwalior",
        "आरटीओ ग्वालियर",
        "Gwalior",
        "ग्वालियर",
        "Regional Transport Office, Sirol Road, Gwalior 474006",
        "क्षेत्रीय परिवहन कार्यालय, सिरोल रोड, ग्वालियर 474006",
        1,
    ),
    (
        "MP-20",
        "RTO Jabalpur",
        "आरटीओ जबलपुर",
        "Jabalpur",
        "जबलपुर",
        "Regional Transport Office, Vijay Nagar, Jabalpur 482002",
        "क्षेत्रीय परिवहन कार्यालय, विजय नगर, जबलपुर 482002",
        1,
    ),
    (
        "MP-13",
        "RTO Ujjain",
        "आरटीओ उज्जैन",
        "Ujjain",
        "उज्जैन",
        "Regional Transport Office, Dewas Road, Ujjain 456010",
        "क्षेत्रीय परिवहन कार्यालय, देवास रोड, उज्जैन 456010",
        1,
    ),
    (
        "MP-15",
        "RTO Sagar",
        "आरटीओ सागर",
        "Sagar",
        "सागर",
        "Regional Transport Office, Makronia, Sagar 470004",
        "क्षेत्रीय परिवहन कार्यालय, मकरोनिया, सागर 470004",
        1,
    ),
    (
        "MP-17",
        "RTO Rewa",
        "आरटीओ रीवा",
        "Rewa",
        "रीवा",
        "Regional Transport Office, Sirmour Chowk, Rewa 486001",
        "क्षेत्रीय परिवहन कार्यालय, सिरमौर चौक, रीवा 486001",
        1,
    ),
]


@dataclass(frozen=True)
class ServiceSpec:
    slug: str
    name: str
    name_hi: str
    slot_minutes: int
    blocks: tuple  # ((start, end), ...) Monday–Saturday
    seats: int
    reserve: int


SERVICES = [
    ServiceSpec(
        "learner-test",
        "Learner's licence test",
        "लर्नर लाइसेंस परीक्षा",
        30,
        ((time(10, 0), time(13, 30)), (time(14, 30), time(17, 0))),
        12,
        2,
    ),
    ServiceSpec(
        "driving-test",
        "Driving test",
        "ड्राइविंग टेस्ट",
        30,
        ((time(10, 0), time(13, 0)), (time(14, 0), time(16, 30))),
        6,
        1,
    ),
    ServiceSpec(
        "photo-biometrics",
        "Photo and biometrics",
        "फोटो और बायोमेट्रिक",
        30,
        ((time(10, 0), time(13, 30)), (time(14, 30), time(17, 0))),
        10,
        2,
    ),
    ServiceSpec(
        "document-verification",
        "Document verification",
        "दस्तावेज़ सत्यापन",
        30,
        ((time(10, 30), time(13, 30)), (time(14, 30), time(16, 30))),
        6,
        1,
    ),
]

# Gazetted holidays of Madhya Pradesh in the demo's range (2026–27).
HOLIDAYS = [
    (date(2026, 11, 24), "Guru Nanak Jayanti", "गुरु नानक जयंती"),
    (date(2026, 12, 25), "Christmas", "क्रिसमस"),
    (date(2027, 1, 26), "Republic Day", "गणतंत्र दिवस"),
    (date(2027, 3, 6), "Maha Shivratri", "महाशिवरात्रि"),
    (date(2027, 3, 22), "Holi", "होली"),
    (date(2027, 4, 15), "Ram Navami", "राम नवमी"),
    (date(2027, 8, 15), "Independence Day", "स्वतंत्रता दिवस"),
    (date(2027, 10, 2), "Gandhi Jayanti", "गांधी जयंती"),
    (date(2027, 10, 29), "Diwali", "दीपावली"),
]
SATURDAY_RANGE = (date(2026, 1, 1), date(2027, 12, 31))


def second_and_fourth_saturdays(*, first: date, last: date):
    day = first
    while day <= last:
        if day.weekday() == 5 and (day.day - 1) // 7 in (1, 3):
            yield day
        day += timedelta(days=1)


@transaction.atomic
def demo_seed_catalogue() -> None:
    """Offices, services, offerings, weekly sessions and closures (no slots)."""
    services = {}
    for order, spec in enumerate(SERVICES):
        services[spec.slug], _ = Service.objects.update_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "name_hi": spec.name_hi,
                "slot_minutes": spec.slot_minutes,
                "sort_order": order,
            },
        )
    saturdays = list(second_and_fourth_saturdays(first=SATURDAY_RANGE[0], last=SATURDAY_RANGE[1]))
    for code, name, name_hi, district, district_hi, address, address_hi, factor in OFFICES:
        office, _ = Office.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_hi": name_hi,
                "district": district,
                "district_hi": district_hi,
                "state": "Madhya Pradesh",
                "address": address,
                "address_hi": address_hi,
                "is_active": True,
            },
        )
        for spec in SERVICES:
            offering, _ = Offering.objects.update_or_create(
                office=office, service=services[spec.slug], defaults={"is_active": True}
            )
            for weekday in range(6):  # Monday–Saturday
                for start, end in spec.blocks:
                    WeeklySession.objects.update_or_create(
                        offering=offering,
                        weekday=weekday,
                        start_time=start,
                        defaults={
                            "end_time": end,
                            "slot_minutes": spec.slot_minutes,
                            "seats_per_slot": spec.seats * factor,
                            "priority_reserve": spec.reserve * factor,
                        },
                    )
        for day in saturdays:
            Closure.objects.update_or_create(
                office=office,
                service=None,
                date=day,
                defaults={"reason": "Second/fourth Saturday", "reason_hi": "दूसरा/चौथा शनिवार"},
            )
        for day, reason, reason_hi in HOLIDAYS:
            Closure.objects.update_or_create(
                office=office,
                service=None,
                date=day,
                defaults={"reason": reason, "reason_hi": reason_hi},
            )


def demo_seed(*, days: int | None = None) -> SlotGenerationResult:
    """The catalogue and the slots of the horizon (the people are applicants.demo's)."""
    demo_seed_catalogue()
    return slots_generate(days=days or settings.SLOT_GENERATION_DAYS)
