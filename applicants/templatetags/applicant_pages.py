"""Filters and tags of the applicant pages: localised dates and the slip's QR code.

Dates go through Django's `date` formatting, so month and weekday names follow the active
language (Hindi month names come from Django's own Hindi catalogue).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import qrcode
import qrcode.image.svg
from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _local(value: datetime | date) -> datetime | date:
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def day_label(value: datetime | date | None) -> str:
    """'Monday 14 December' / 'सोमवार 14 दिसंबर'."""
    return date_format(_local(value), "l j E") if value else ""


@register.filter
def day_short(value: datetime | date | None) -> str:
    """'Mon 14 December' / 'सोम 14 दिसंबर'."""
    return date_format(_local(value), "D j E") if value else ""


@register.filter
def time_label(value: datetime | None) -> str:
    """'10:30' (India time, 24-hour: the same in both languages)."""
    return date_format(_local(value), "H:i") if value else ""


@register.filter
def when(value: datetime | None) -> str:
    """'Mon 14 December 2026, 10:30'."""
    return date_format(_local(value), "D j E Y, H:i") if value else ""


@register.filter
def when_short(value: datetime | None) -> str:
    """'14 December 10:30': the compact form used in sentences of the history."""
    return date_format(_local(value), "j E H:i") if value else ""


@register.filter
def month_label(value: date | None) -> str:
    """'December 2026' / 'दिसंबर 2026'."""
    return date_format(value, "E Y") if value else ""


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
