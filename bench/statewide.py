"""The statewide catalogue the outage benchmarks stand on (bench_reschedule, bench_hold,
bench_told): `offices` offices, each offering photo + biometrics and the learner test, open
every day 10:00–17:00 in 30-minute slots, slots made for 14 days. Call after django.setup()."""

from __future__ import annotations

from datetime import time as dtime


def statewide_catalogue(*, offices: int, seats: int, reserve: int) -> list:
    """Migrate, then make the catalogue; returns the offerings."""
    from django.core.management import call_command

    from slots.models import Offering, Office, Service, WeeklySession
    from slots.services.slot_generation import slots_generate

    call_command("migrate", verbosity=0, interactive=False)
    services = [
        Service.objects.get_or_create(
            slug=slug, defaults={"name": name, "name_hi": name_hi, "sort_order": order}
        )[0]
        for order, (slug, name, name_hi) in enumerate(
            [
                (Service.PHOTO_BIOMETRICS, "Photo and biometrics", "फ़ोटो और बायोमेट्रिक"),
                (Service.LEARNER_TEST, "Learner licence test", "लर्नर लाइसेंस परीक्षा"),
            ]
        )
    ]
    made = Office.objects.bulk_create(
        [
            Office(
                code=f"MP-{i:02d}",
                name=f"RTO Office {i}",
                name_hi=f"आरटीओ कार्यालय {i}",
                district=f"District {i}",
                address=f"{i} Civil Lines",
                address_hi=f"{i} सिविल लाइंस",
            )
            for i in range(1, offices + 1)
        ]
    )
    offerings = Offering.objects.bulk_create(
        [Offering(office=o, service=s) for o in made for s in services]
    )
    WeeklySession.objects.bulk_create(
        [
            WeeklySession(
                offering=offering,
                weekday=weekday,
                start_time=dtime(10, 0),
                end_time=dtime(17, 0),
                slot_minutes=30,
                seats_per_slot=seats,
                priority_reserve=reserve,
            )
            for offering in offerings
            for weekday in range(7)
        ]
    )
    slots_generate(days=14)
    return offerings
