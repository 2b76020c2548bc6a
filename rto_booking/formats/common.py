"""The one set of date and time formats of both languages (Django date-format syntax).

Hindi and English differ only in the month and weekday names, which come from the catalogue
(locale/hi/LC_MESSAGES/django.po carries the project's own Hindi month names: see
rto_booking.formats). Times are 24-hour in both: "16:46", never "4:46 PM" or "4:46 बजे".
"""

DATE_FORMAT = "j F Y"  # 4 December 2026 / 4 दिसंबर 2026
TIME_FORMAT = "H:i"  # 16:46
DATETIME_FORMAT = "j F Y, H:i"  # 4 December 2026, 16:46
MONTH_DAY_FORMAT = "j F"  # 4 December
YEAR_MONTH_FORMAT = "F Y"  # December 2026
SHORT_DATE_FORMAT = "d-m-Y"  # 04-12-2026 (as the date fields are typed)
SHORT_DATETIME_FORMAT = "d-m-Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday
