"""The dates the service works with, for every form and serializer that accepts one.

Outside this range Python's date arithmetic (a day sheet's next day, a year filter's next
year, an outage's extension) or the database's timestamp range, seen through UTC, would
overflow and answer 500 instead of 400.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 1, 1)  # exclusive


def date_in_range(day: date) -> bool:
    return EARLIEST <= day < LATEST


class BoundedFormDateField(forms.DateField):
    """A form date inside EARLIEST..LATEST (birth dates have their own, wider check)."""

    def to_python(self, value):
        day = super().to_python(value)
        if day is not None and not date_in_range(day):
            raise forms.ValidationError(_("Enter a date from 2000 to 2099."), code="out_of_range")
        return day


class BoundedFormDateTimeField(forms.DateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None and not date_in_range(timezone.localtime(moment).date()):
            raise forms.ValidationError(_("Enter a time from 2000 to 2099."), code="out_of_range")
        return moment
