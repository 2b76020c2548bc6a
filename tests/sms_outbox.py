"""The SMS the file backend wrote (SMS_BACKEND=file, one JSON file per message in SMS_FILE_DIR):
tests read a one-time code there as a person reads it on the phone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings


def sms_sent(directory: str | Path | None = None) -> list[dict]:
    path = Path(directory or settings.SMS_FILE_DIR)
    if not path.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(path.glob("*.json"))]


def codes_sent_to(mobile: str, directory: str | Path | None = None) -> list[str]:
    """Every one-time code sent to `mobile`, oldest first (files are named by outbox id)."""
    messages = sorted(
        (m for m in sms_sent(directory) if m["kind"] == "mobile_code" and m["to"] == mobile),
        key=lambda m: m["notification_id"],
    )
    return [re.search(r"\b(\d{6})\b", m["text"]).group(1) for m in messages]


def code_sent_to(mobile: str, directory: str | Path | None = None) -> str:
    """The newest one-time code sent to `mobile`."""
    codes = codes_sent_to(mobile, directory)
    assert codes, f"no code SMS was sent to {mobile}"
    return codes[-1]


def wrong_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"
