"""Dates and times as people read them, one way in both languages, everywhere.

Pages, the admin, SMS and e-mail all format through Django's format machinery
(`FORMAT_MODULE_PATH = ["rto_booking.formats"]`: the formats of `en` and `hi` are the
project's one set in `common.py`), so "4 December 2026, 16:46" reads "4 दिसंबर 2026, 16:46" in
Hindi, with 24-hour times, wherever it is shown. Nothing formats a date with `strftime` or a
month table of its own.

Django draws month names from four tables (`django.utils.dates`: full, three-letter,
AP-abbreviated and the "alt. month" forms of `E`), and its Hindi catalogue spells them
differently (December as दिसमबर, दिस, दिसम्बर and दिसंबर). The project's catalogue, read
before Django's, gives each Hindi month one spelling, the full name, in all four: Hindi does
not abbreviate month names in writing. `MONTH_MSGIDS` below names those msgids so that
`makemessages` keeps the project's translations of them.
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, timezone
from django.utils.translation import gettext_noop, pgettext_lazy

# Django's own month msgids (django/utils/dates.py), listed so `makemessages` extracts them into
# the project's catalogue, where each Hindi month has its one spelling.
MONTH_MSGIDS = (
    gettext_noop("January"),
    gettext_noop("February"),
    gettext_noop("March"),
    gettext_noop("April"),
    gettext_noop("May"),
    gettext_noop("June"),
    gettext_noop("July"),
    gettext_noop("August"),
    gettext_noop("September"),
    gettext_noop("October"),
    gettext_noop("November"),
    gettext_noop("December"),
    gettext_noop("jan"),
    gettext_noop("feb"),
    gettext_noop("mar"),
    gettext_noop("apr"),
    gettext_noop("may"),
    gettext_noop("jun"),
    gettext_noop("jul"),
    gettext_noop("aug"),
    gettext_noop("sep"),
    gettext_noop("oct"),
    gettext_noop("nov"),
    gettext_noop("dec"),
    pgettext_lazy("abbrev. month", "Jan."),
    pgettext_lazy("abbrev. month", "Feb."),
    pgettext_lazy("abbrev. month", "March"),
    pgettext_lazy("abbrev. month", "April"),
    pgettext_lazy("abbrev. month", "May"),
    pgettext_lazy("abbrev. month", "June"),
    pgettext_lazy("abbrev. month", "July"),
    pgettext_lazy("abbrev. month", "Aug."),
    pgettext_lazy("abbrev. month", "Sept."),
    pgettext_lazy("abbrev. month", "Oct."),
    pgettext_lazy("abbrev. month", "Nov."),
    pgettext_lazy("abbrev. month", "Dec."),
    pgettext_lazy("alt. month", "January"),
    pgettext_lazy("alt. month", "February"),
    pgettext_lazy("alt. month", "March"),
    pgettext_lazy("alt. month", "April"),
    pgettext_lazy("alt. month", "May"),
    pgettext_lazy("alt. month", "June"),
    pgettext_lazy("alt. month", "July"),
    pgettext_lazy("alt. month", "August"),
    pgettext_lazy("alt. month", "September"),
    pgettext_lazy("alt. month", "October"),
    pgettext_lazy("alt. month", "November"),
    pgettext_lazy("alt. month", "December"),
)


def _local(value: datetime | date) -> datetime | date:
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def format_date(value: datetime | date | None, *, weekday: str = "") -> str:
    """`4 December 2026` in the active language; `weekday="l"` ("Friday 4 December 2026") or
    `"D"` ("Fri 4 December 2026") puts the day of the week in front."""
    if value is None:
        return ""
    text = formats.date_format(_local(value), "DATE_FORMAT")
    return f"{formats.date_format(_local(value), weekday)} {text}" if weekday else text


def format_datetime(value: datetime | None, *, weekday: str = "") -> str:
    """`4 December 2026, 16:46` (India time) in the active language, as `format_date`."""
    if value is None:
        return ""
    text = formats.date_format(_local(value), "DATETIME_FORMAT")
    return f"{formats.date_format(_local(value), weekday)} {text}" if weekday else text


def format_time(value: datetime | None) -> str:
    """`16:46` (India time)."""
    return formats.time_format(_local(value), "TIME_FORMAT") if value is not None else ""


def format_day_month(value: datetime | date | None, *, weekday: str = "") -> str:
    """`4 December` (no year: a day in the calendar of the weeks ahead), as `format_date`."""
    if value is None:
        return ""
    text = formats.date_format(_local(value), "MONTH_DAY_FORMAT")
    return f"{formats.date_format(_local(value), weekday)} {text}" if weekday else text


def format_day_month_time(value: datetime | None) -> str:
    """`4 December 16:46`: an appointment in a sentence where the year goes without saying
    (SMS and e-mail, whose length counts; the history's "moved from … to …")."""
    if value is None:
        return ""
    return f"{format_day_month(value)} {format_time(value)}"


def format_month(value: date | None) -> str:
    """`December 2026`."""
    return formats.date_format(value, "YEAR_MONTH_FORMAT") if value is not None else ""
