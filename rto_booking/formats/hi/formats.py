"""Date and time formats of this language: the project's one set (rto_booking.formats.common)."""

from rto_booking.formats.common import (  # noqa: F401 (read by Django's format machinery)
    DATE_FORMAT,
    DATETIME_FORMAT,
    FIRST_DAY_OF_WEEK,
    MONTH_DAY_FORMAT,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    TIME_FORMAT,
    YEAR_MONTH_FORMAT,
)
