"""/readyz checks of the notifications app: can the configured backends send?

A backend that cannot even be set up (the file backend without a writable EMAIL_FILE_PATH, an
SMTP server that refuses the connection or the login) would fail every message while the rest
of the site looks healthy; here /readyz says so, with the reason. The SMTP check opens (and
closes) a real connection, so its answer is kept for SMTP_CHECK_SECONDS per process.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend

from notifications.backends import get_sms_backend

SMTP_CHECK_SECONDS = 60.0
_smtp_answer: dict[tuple, tuple[float, dict]] = {}


def _failed(error: BaseException) -> dict:
    return {"status": "fail", "error": f"{type(error).__name__}: {error}"[:300]}


def email_ready() -> dict:
    try:
        backend = get_connection(fail_silently=False)
    except Exception as error:
        return {**_failed(error), "backend": settings.EMAIL_BACKEND}
    if not isinstance(backend, SmtpEmailBackend):
        return {"status": "ok", "backend": settings.EMAIL_BACKEND}
    key = (backend.host, backend.port, backend.username, backend.use_tls, backend.use_ssl)
    cached = _smtp_answer.get(key)
    if cached is not None and time.monotonic() - cached[0] < SMTP_CHECK_SECONDS:
        return cached[1]
    try:
        backend.open()
        backend.close()
    except Exception as error:
        answer = {**_failed(error), "backend": settings.EMAIL_BACKEND}
    else:
        answer = {"status": "ok", "backend": settings.EMAIL_BACKEND}
    _smtp_answer[key] = (time.monotonic(), answer)
    return answer


def sms_ready() -> dict:
    try:
        backend = get_sms_backend()
        backend.close()
    except Exception as error:
        return {**_failed(error), "backend": settings.SMS_BACKEND}
    return {"status": "ok", "backend": settings.SMS_BACKEND}
