"""How many SMS segments a text takes.

An SMS is 140 bytes. Text made only of GSM 03.38 characters travels as 7-bit septets: 160 per
single message, 153 per part of a concatenated one (the rest is the concatenation header);
characters of the extension table (`{`, `€`, …) take two septets, and the pair is never split
across parts. Any other character (all of Devanagari) sends the whole text as UCS-2: 70 UTF-16
code units per single message, 67 per part, and a surrogate pair is never split either.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(unit_sizes: list[int], part: int) -> int:
    """Parts needed when units of these sizes are packed in order, never splitting one."""
    parts, used = 1, 0
    for size in unit_sizes:
        if used + size > part:
            parts += 1
            used = 0
        used += size
    return parts


def sms_length(text: str) -> SmsLength:
    if is_gsm7(text):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        encoding, single, part = "gsm7", GSM7_SINGLE, GSM7_PART
    else:
        sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding, single, part = "ucs2", UCS2_SINGLE, UCS2_PART
    units = sum(sizes)
    if units == 0:
        return SmsLength(encoding, 0, 0)
    segments = 1 if units <= single else _pack(sizes, part)
    return SmsLength(encoding, units, segments)


def sms_segments(text: str) -> int:
    return sms_length(text).segments
