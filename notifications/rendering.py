"""Turn an outbox row (kind, language, JSON context) into the text that is sent.

Rendering happens at send time, not when the row is written: writing 80,000 rows in an
outage's transactions must stay cheap. Templates live in templates/notifications/<language>/
as `<kind>.sms.txt`, `<kind>.subject.txt`, `<kind>.email.txt` and `<kind>.email.html`; one file
per language keeps each SMS's length in plain sight. Compiled templates are cached per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.template import Context
from django.template.loader import get_template
from django.utils import translation

from notifications.models import Notification
from notifications.sealing import unseal
from notifications.sms import GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, sms_length
from rto_booking.formats import format_day_month, format_day_month_time, format_time

IST = ZoneInfo("Asia/Kolkata")
LANGUAGES = ("en", "hi")
# Kinds whose message names an appointment time, so the e-mail carries an .ics file.
KINDS_WITH_SLOT = frozenset(
    {
        Notification.Kind.BOOKING_CONFIRMED,
        Notification.Kind.RESCHEDULED_OUTAGE,
        Notification.Kind.RESCHEDULED,
        Notification.Kind.REMINDER,
        Notification.Kind.SERVICE_RESTORED,
        Notification.Kind.LAST_CALL,
    }
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    body_html: str


@cache
def _template(language: str, kind: str, part: str):
    """The compiled django.template.Template (not the backend wrapper: we pick autoescape)."""
    return get_template(f"notifications/{language}/{kind}.{part}").template


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(IST)


def format_when(value: datetime | None, language: str) -> str:
    """`12 December 10:30` in India time (`12 दिसंबर 10:30` in Hindi): the pages' and the
    admin's formats (rto_booking.formats), the year left out as the SMS length asks."""
    with translation.override(language if language in LANGUAGES else "en"):
        return format_day_month_time(value)


def format_day(value: datetime | None, language: str) -> str:
    """`12 December` in India time (`12 दिसंबर` in Hindi), as `format_when` without the time."""
    with translation.override(language if language in LANGUAGES else "en"):
        return format_day_month(value)


_GSM_FRIENDLY = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"'})


def short_text(text: str, limit: int, *, gsm7: bool = False, mark: str = "...") -> str:
    """`text` on one line, cut at a word to at most `limit` characters (`mark` marks the cut;
    a Hindi SMS, UCS-2 anyway, takes the one-character "…").

    With `gsm7`, typographic dashes and quotes become ASCII and anything else outside the GSM
    alphabet is dropped: one curly quote typed by a clerk would otherwise turn an English SMS
    into UCS-2 and halve its length.
    """
    from notifications.sms import GSM7_BASIC, GSM7_EXTENSION

    text = " ".join(text.split())
    if gsm7:
        text = "".join(
            ch for ch in text.translate(_GSM_FRIENDLY) if ch in GSM7_BASIC or ch in GSM7_EXTENSION
        )
    if len(text) <= limit:
        return text
    room = limit - len(mark)
    if room < 1:  # no room for a word and the mark
        return ""
    cut = text[:room].rsplit(" ", 1)[0] or text[:room]
    return cut.rstrip(" ,.;:।") + mark


def _pick(data: dict, key: str, language: str) -> str:
    if language == "hi" and data.get(f"{key}_hi"):
        return data[f"{key}_hi"]
    return data.get(key) or ""


# A Hindi message never carries the clerk's English reason: an outage recorded without a Hindi
# reason (the API allows it; older rows) says "technical fault" instead.
HINDI_REASON_FALLBACK = "तकनीकी खराबी"

# Kinds that tell of an outage (or its end). Their SMS name the service and the reason and keep
# to SMS_SEGMENT_BUDGET: the reason is cut (with "...") to what is left, never the facts.
OUTAGE_KINDS = frozenset(
    {
        Notification.Kind.RESCHEDULED_OUTAGE,
        Notification.Kind.ON_HOLD,
        Notification.Kind.NEEDS_NEW_SLOT,
        Notification.Kind.SERVICE_RESTORED,
        Notification.Kind.RESCHEDULED,  # a false alarm's "your booking is back"
    }
)
# Segments an outage SMS may take: Hindi (UCS-2) at most two, 134 characters; English (GSM-7)
# two, its link included.
SMS_SEGMENT_BUDGET = {"hi": 2, "en": 2}
# However much room is left, an SMS shows at most this much of the reason (the e-mail has it all):
# the SMS templates carry it as two DLT variables, and DLT takes at most 30 characters in one
# (notifications/dlt.py checks every SMS against that).
DLT_VAR_MAX = 30
SMS_REASON_MAX = 2 * DLT_VAR_MAX


def sms_budget_units(*, segments: int, gsm7: bool) -> int:
    """Characters (GSM-7 septets or UCS-2 units) that fit in `segments` segments."""
    if segments <= 1:
        return GSM7_SINGLE if gsm7 else UCS2_SINGLE
    return segments * (GSM7_PART if gsm7 else UCS2_PART)


def _reason(context: dict, outage: dict, language: str) -> str:
    if language == "hi":
        return (
            context.get("reason_hi")
            or outage.get("reason_hi")
            or (HINDI_REASON_FALLBACK if (context.get("reason") or outage.get("reason")) else "")
        )
    return context.get("reason") or outage.get("reason") or ""


def _sms_reason(reason: str, limit: int, language: str) -> str:
    if language == "en":
        return short_text(reason, limit, gsm7=True)
    return short_text(reason, limit, mark="…")


def _with_reason_short(ctx: dict[str, Any], reason_short: str) -> dict[str, Any]:
    """`ctx` showing `reason_short` in the SMS, in two parts (`reason_short`, `reason_more`):
    on DLT each variable may hold at most 30 characters, so the templates register the reason
    as two adjacent `{#var#}` and a reason of up to 60 fits."""
    return {
        **ctx,
        "reason_short": reason_short[:DLT_VAR_MAX],
        "reason_more": reason_short[DLT_VAR_MAX:],
        "reason_sms": reason_short,
    }


def _site_url(booking_url: str) -> str:
    """The site's address (scheme and host) from the booking link: short enough for a Hindi
    SMS, where the applicant signs in and finds the booking at the top of "My bookings"."""
    parts = urlsplit(booking_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else booking_url


def template_context(*, context: dict[str, Any], language: str) -> dict[str, Any]:
    """What the templates see: names and reasons in `language`, times formatted."""
    office = context.get("office") or {}
    service = context.get("service") or {}
    slot = context.get("slot") or {}
    outage = context.get("outage") or {}
    links = context.get("links") or {}
    starts_at = parse_time(slot.get("starts_at"))
    ends_at = parse_time(slot.get("ends_at"))
    from_starts_at = parse_time(context.get("from_starts_at"))
    to_starts_at = parse_time(context.get("to_starts_at")) or starts_at
    reason = _reason(context, outage, language)
    values = {
        "reference": context.get("reference", ""),
        "full_name": context.get("full_name", ""),
        "office": _pick(office, "name", language),
        "office_code": office.get("code", ""),
        "address": _pick(office, "address", language),
        "service": _pick(service, "name", language),
        "when": format_when(starts_at, language),
        "day": format_day(starts_at, language),
        "ends": format_time(ends_at),
        "time": format_time(starts_at),
        "old_when": format_when(from_starts_at, language),
        "new_when": format_when(to_starts_at, language),
        "reason": reason,
        "booking_url": links.get("booking", ""),
        "site_url": _site_url(links.get("booking", "")) or links.get("site", ""),
        "cancel_url": links.get("cancel", ""),
        # The reminder's and the last call's "I'll come" (slots.links.reminder_link_url).
        "confirm_url": links.get("confirm", ""),
        # The last call: when an unconfirmed booking is released.
        "release_when": format_when(parse_time(context.get("release_at")), language),
        "has_outage": bool(outage),
        # The outage ran at reduced capacity: the service was slow, not down.
        "partial": bool(outage.get("capacity_percent")),
        # Set by an undone outage (slots.services.outage_undo): "your booking is back".
        "false_alarm": bool(context.get("false_alarm")),
        # Account messages (notifications.services.account_sms_queue): no booking.
        "code": unseal(context.get("code_sealed", "")),
        "minutes": context.get("minutes", ""),
        "application_number": context.get("application_number", ""),
        # A waiting-list offer: its one-tap link and until when the seat is held.
        "offer_url": links.get("offer", ""),
        # A ballot drawn without a seat: on the day's waiting list now, or not.
        "waitlisted": bool(context.get("waitlisted")),
        "expires": format_time(parse_time(context.get("expires_at"))),
    }
    return _with_reason_short(values, _sms_reason(reason, SMS_REASON_MAX, language))


def _render(language: str, kind: str, part: str, ctx: dict[str, Any], *, html: bool) -> str:
    return _template(language, kind, part).render(Context(ctx, autoescape=html))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _render_sms(language: str, kind: str, ctx: dict[str, Any]) -> str:
    """The SMS text; for an outage kind, the reason cut until the text keeps its budget."""
    text = _one_line(_render(language, kind, "sms.txt", ctx, html=False))
    if kind not in OUTAGE_KINDS or not ctx["reason_sms"]:
        return text
    gsm7 = language == "en"
    budget = sms_budget_units(segments=SMS_SEGMENT_BUDGET[language], gsm7=gsm7)
    if sms_length(text).units <= budget:
        return text
    without = _one_line(_render(language, kind, "sms.txt", _with_reason_short(ctx, ""), html=False))
    if without == text:  # the template does not show the reason: nothing to cut
        return text
    limit = len(ctx["reason_sms"])
    while (over := sms_length(text).units - budget) > 0 and limit > 0:
        # Each character of the reason is one unit (GSM-friendly or UCS-2): cut what is over.
        limit = max(0, min(limit - over, limit - 1))
        ctx = _with_reason_short(ctx, _sms_reason(ctx["reason"], limit, language))
        text = _one_line(_render(language, kind, "sms.txt", ctx, html=False))
    return text


def render_notification(
    *, kind: str, channel: str, language: str, context: dict[str, Any]
) -> Rendered:
    language = language if language in LANGUAGES else "en"
    with translation.override(language):
        ctx = template_context(context=context, language=language)
        if channel == Notification.Channel.SMS:
            return Rendered("", _render_sms(language, kind, ctx), "")
        return Rendered(
            subject=_one_line(_render(language, kind, "subject.txt", ctx, html=False))[:200],
            body=_render(language, kind, "email.txt", ctx, html=False).strip() + "\n",
            body_html=_render(language, kind, "email.html", ctx, html=True),
        )
