"""The project package as an app: its system checks (rto_booking/checks.py)."""

from django.apps import AppConfig


class RtoBookingConfig(AppConfig):
    name = "rto_booking"
    verbose_name = "RTO Slot Booking"

    def ready(self) -> None:
        from rto_booking import checks  # noqa: F401  (registers the checks)
