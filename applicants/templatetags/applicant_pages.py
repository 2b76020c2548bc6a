"""Filters and tags of the applicant pages: localised dates and the slip's QR code.

Dates go through the project's one set of formats (rto_booking.formats): month and weekday
names follow the active language, with one spelling of each Hindi month.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import qrcode
import qrcode.image.svg
from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from rto_booking import formats

register = template.Library()


@register.filter
def day_label(value: datetime | date | None) -> str:
    """'Monday 14 December' / 'सोमवार 14 दिसंबर'."""
    return formats.format_day_month(value, weekday="l")


@register.filter
def day_short(value: datetime | date | None) -> str:
    """'Mon 14 December' / 'सोम 14 दिसंबर'."""
    return formats.format_day_month(value, weekday="D")


@register.filter
def time_label(value: datetime | None) -> str:
    """'10:30' (India time, 24-hour: the same in both languages)."""
    return formats.format_time(value)


@register.filter
def when(value: datetime | None) -> str:
    """'Mon 14 December 2026, 10:30'."""
    return formats.format_datetime(value, weekday="D")


@register.filter
def when_short(value: datetime | None) -> str:
    """'14 December 10:30': the form of the history's sentences, as the SMS and e-mail say it."""
    return formats.format_day_month_time(value)


@register.filter
def month_label(value: date | None) -> str:
    """'December 2026' / 'दिसंबर 2026'."""
    return formats.format_month(value)


_SVG_SIZE = re.compile(r'^<svg width="[^"]*" height="[^"]*"')


@register.simple_tag
def qr_svg(text: str, label: str = "") -> SafeString:
    """The QR code of `text` as inline SVG (scales crisply on screens and in print)."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    svg = image.to_string(encoding="unicode")
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    attributes = f'<svg class="qr" role="img" aria-label="{escape(label or text)}"'
    # The SVG is built here from our own reference string; only the label is escaped input.
    return mark_safe(_SVG_SIZE.sub(attributes, svg, count=1))  # noqa: S308
