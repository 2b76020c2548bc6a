"""Where messages go: SMS backends chosen by settings.SMS_BACKEND, and e-mail through Django.

A backend sends one message and returns the provider's id for it, or raises
`TransientSendError` (try again later) or `PermanentSendError` (this message can never be sent,
e.g. the gateway refused the number). Any other exception is treated as transient. Backends are
created once per sending thread of a dispatcher run, so each thread's HTTP connection or SMTP
connection is reused for every message it sends.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from notifications.gateway_http import GatewayHttp, GatewayResponse, GatewayUnreachable

logger = logging.getLogger(__name__)


class SendError(Exception):
    """A message could not be sent."""


class TransientSendError(SendError):
    """Worth retrying later: timeout, connection refused, the provider's 5xx."""


class PermanentSendError(SendError):
    """Retrying cannot help (the provider's 4xx): the row goes dead at once."""


class RateLimitedError(TransientSendError):
    """The gateway answered 429: too many a second. `retry_after` is its `Retry-After` in
    seconds (None when it gave none): every send pauses that long and this one is tried again,
    without counting an attempt (the gateway did not look at the message)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    from django.utils import timezone

    return max(0.0, (when - timezone.now()).total_seconds())


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str
    reference: str
    kind: str
    language: str
    notification_id: int | None = None
    # The DLT registration of the message's template (notifications/dlt.py), when configured.
    dlt_template_id: str = ""
    dlt_entity_id: str = ""
    sender: str = ""


class BaseSmsBackend:
    # Whether sends wait on a network (then many run at once); a local backend has nothing to
    # overlap, and threads would only contend for the interpreter.
    concurrent = True

    def send(self, message: SmsMessage) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections at the end of a dispatcher run."""


class ConsoleSmsBackend(BaseSmsBackend):
    """Print to stdout: `make run` shows every SMS in the runserver terminal."""

    concurrent = False

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, message: SmsMessage) -> str:
        self.stream.write(f"SMS to {message.to} [{message.language}] {message.text}\n")
        self.stream.flush()
        return f"console-{message.notification_id or uuid.uuid4().hex}"


class FileSmsBackend(BaseSmsBackend):
    """One JSON file per message in settings.SMS_FILE_DIR (development and tests).

    The name holds the notification id and a random part, so a message sent twice shows up as
    two files instead of one overwriting the other. Each file is written under a temporary name
    and renamed, so a reader never sees half a message.
    """

    concurrent = False

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory or settings.SMS_FILE_DIR)
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, message: SmsMessage) -> str:
        name = f"{message.notification_id or 0}-{uuid.uuid4().hex[:12]}"
        payload = {
            "to": message.to,
            "text": message.text,
            "reference": message.reference,
            "kind": message.kind,
            "language": message.language,
            "notification_id": message.notification_id,
        }
        # Not "*.json" until complete: a reader globbing the directory never sees a half file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, ensure_ascii=False)
            os.replace(tmp, self.directory / f"{name}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name


class HttpSmsBackend(BaseSmsBackend):
    """The generic JSON gateway of docs/API.md ("SMS gateways"), to the letter.

    `POST SMS_GATEWAY_URL` with header `X-API-Key` and body `{"to", "text", "sender",
    "unicode", "reference"}` plus `dlt_template_id` / `dlt_entity_id` when the message has
    them. A 2xx answer whose JSON has `"id"` is accepted (that id is the provider id); 429
    (`Retry-After` obeyed), 5xx, time-outs and connection errors are retried with back-off; any
    other 4xx is final (bad number, bad key: retrying cannot help). A 2xx without an id is not
    an acceptance: retried. One instance per sending thread, so its client keeps one
    connection open and reuses it for every message (keep-alive).
    """

    def __init__(self):
        if not settings.SMS_GATEWAY_URL:
            raise PermanentSendError("SMS_BACKEND=http needs SMS_GATEWAY_URL")
        self.url = settings.SMS_GATEWAY_URL
        self.timeout = settings.SMS_GATEWAY_TIMEOUT
        self.http = GatewayHttp(
            self.url,
            timeout=self.timeout,
            headers={"X-API-Key": settings.SMS_GATEWAY_API_KEY, "Accept": "application/json"},
        )

    def body(self, message: SmsMessage) -> dict:
        from notifications.sms import is_gsm7

        body = {
            "to": message.to,
            "text": message.text,
            "sender": message.sender or settings.SMS_GATEWAY_SENDER_ID,
            "unicode": not is_gsm7(message.text),
            "reference": f"{message.reference}:{message.notification_id}",
        }
        if message.dlt_template_id:
            body["dlt_template_id"] = message.dlt_template_id
        if message.dlt_entity_id:
            body["dlt_entity_id"] = message.dlt_entity_id
        return body

    def send(self, message: SmsMessage) -> str:
        try:
            response = self.http.post_json(self.body(message))
        except GatewayUnreachable as exc:
            raise TransientSendError(f"gateway unreachable: {exc}") from exc
        status = response.status_code
        if status == 429:
            raise RateLimitedError(
                f"gateway HTTP 429: {response.text[:300]}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise TransientSendError(f"gateway HTTP {status}: {response.text[:300]}")
        if status >= 400:
            raise PermanentSendError(f"gateway HTTP {status}: {response.text[:300]}")
        if not 200 <= status < 300:
            raise TransientSendError(f"gateway HTTP {status}: not an acceptance")
        try:
            data = response.json()
        except ValueError:
            data = None
        provider_id = data.get("id") if isinstance(data, dict) else None
        if provider_id in (None, ""):
            raise TransientSendError(f"gateway HTTP {status} without an id: {response.text[:300]}")
        return str(provider_id)

    def close(self) -> None:
        self.http.close()


def ucs2_hex(text: str) -> str:
    """Text as NIC's gateway takes Unicode (`msgType=UC`): UTF-16 code units in hex, upper
    case, after the byte-order mark FEFF, as its integration guide shows."""
    return "FEFF" + text.encode("utf-16-be").hex().upper()


def national_number(to: str) -> str:
    """+91 98… → 9198…: the gateways of India take the number with its country code, digits
    only."""
    digits = "".join(ch for ch in to if ch.isdigit())
    return digits if len(digits) > 10 else f"91{digits}"


class _FormGatewayBackend(BaseSmsBackend):
    """Shared by the gateways below: one kept-alive connection, the same classes of answer as the
    generic gateway (429 with Retry-After, 5xx and time-outs transient, other 4xx final)."""

    default_url = ""

    def __init__(self):
        self.url = settings.SMS_GATEWAY_URL or self.default_url
        self.timeout = settings.SMS_GATEWAY_TIMEOUT
        self.http = GatewayHttp(self.url, timeout=self.timeout)

    def _post(self, data: dict) -> GatewayResponse:
        try:
            response = self.http.post_form(data)
        except GatewayUnreachable as exc:
            raise TransientSendError(f"gateway unreachable: {exc}") from exc
        if response.status_code == 429:
            raise RateLimitedError(
                f"gateway HTTP 429: {response.text[:300]}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 500:
            raise TransientSendError(f"gateway HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise PermanentSendError(f"gateway HTTP {response.status_code}: {response.text[:300]}")
        return response

    def close(self) -> None:
        self.http.close()


class NicSmsBackend(_FormGatewayBackend):
    """NIC's SMS gateway (smsgw.sms.gov.in, `failsafe/HttpLink`), the one NIC's Messaging
    Division runs for government departments (C-DAC's MSDG is another gateway: `MsdgSmsBackend`).

    Where the format comes from: NIC's "SMS Mobile Termination (MT) API Guide for HTTPS" and
    "NIC SMS Service Integration" (fields `username`, `pin`, `message`, `mnumber` with the
    country code, `signature` = the sender id / DLT header; Unicode as `msgType=UC` with the
    message in UCS-2 hex after `FEFF`), plus the DLT fields `dlt_entity_id` and
    `dlt_template_id` that every DLT-era integration of HttpLink sends, and `concat=1` for a
    message longer than one SMS (the guide's "text message of length more than 160
    characters"; integrations send it so). The answer is one line of
    text, e.g. `Message Accepted for Request ID=12313946898506681731361~code=API000 &
    info=Platform accepted & Time =2014/03/13/11/20`, and for a refusal `Message Rejected for
    Request ID= ~code=API-3& info=REJECTED: Empty mnumber& Time = 2014/11/27/19/47`: accepted
    exactly when `code=API000` and a request id are there (the id is the provider id); any
    other answer is the gateway refusing the message (final, its words kept in `last_error`)."""

    default_url = "https://smsgw.sms.gov.in/failsafe/HttpLink"
    _REQUEST_ID = re.compile(r"Request\s*ID\s*=\s*([A-Za-z0-9_-]+)", re.IGNORECASE)
    _CODE = re.compile(r"code\s*=\s*([A-Za-z0-9_-]+)", re.IGNORECASE)

    def form(self, message: SmsMessage) -> dict:
        from notifications.sms import is_gsm7, sms_length

        data = {
            "username": settings.SMS_GATEWAY_USERNAME,
            "pin": settings.SMS_GATEWAY_PASSWORD,
            "mnumber": national_number(message.to),
            "signature": message.sender or settings.SMS_GATEWAY_SENDER_ID,
            "dlt_entity_id": message.dlt_entity_id,
            "dlt_template_id": message.dlt_template_id,
        }
        if is_gsm7(message.text):
            data["message"] = message.text
        else:
            data["message"] = ucs2_hex(message.text)
            data["msgType"] = "UC"
        if sms_length(message.text).segments > 1:
            data["concat"] = "1"
        return data

    def send(self, message: SmsMessage) -> str:
        response = self._post(self.form(message))
        text = response.text.strip()
        found = self._REQUEST_ID.search(text)
        code = self._CODE.search(text)
        if found and code and code.group(1).upper() == "API000":
            return found.group(1)
        raise PermanentSendError(f"gateway refused: {text[:300]}")


def html_entities(text: str) -> str:
    """Text as C-DAC's MSDG takes Unicode (`smsservicetype=unicodemsg`): every character as a
    decimal HTML entity (`&#2344;`), as C-DAC's sample clients encode it."""
    return "".join(f"&#{ord(ch)};" for ch in text)


class MsdgSmsBackend(_FormGatewayBackend):
    """C-DAC's Mobile Seva gateway (MSDG, msdgweb.mgov.gov.in), with DLT.

    Where the format comes from: C-DAC's "SMS Push Service" integration page
    (services.mgov.gov.in/RegisterPushService) and its sample clients: a form POST to
    `esms/sendsmsrequestDLT` of `username`, `password` (the SHA-1 of the password, hex),
    `senderid` (the DLT header), `content`, `smsservicetype` (`singlemsg`; `unicodemsg` with the
    content as HTML entities for Hindi), `mobileno`, `key` (the SHA-512, hex, of username +
    sender id + content + the department's secure key, `SMS_GATEWAY_SECURE_KEY`) and
    `templateid` (the DLT template id). The answer is one line: `402,MsgID = <id>` when the
    message was taken (the id, e.g. `150620161466003974245msdgsms`, is the provider id), any
    other code a refusal (`401,Credentials Error…`, `406,Invalid or Duplicate numbers`, `416,Hash
    doesn't match`, … also written `ERROR : 406 …`). Refusals that name the gateway's own
    trouble (403 credits not available, 404/405 internal errors, 407/408 SMSC network errors,
    409 SMSC time-out, 410/418 limits) are retried; the others are final.

    Delivery reports are a pull API (`delivery_status`): `XMLForReportG/reportXMLNew?userid=…
    &password=…&msgid=…` answers `<dept><msgid/><delvSMSCount/><fldSMSCount/><subSMSCount/>
    <undelv/><del><no mobNo="91…">DELIVRED</no></del><sub/><fld/></dept>`."""

    default_url = "https://msdgweb.mgov.gov.in/esms/sendsmsrequestDLT"
    default_report_url = "https://msdgweb.mgov.gov.in/XMLForReportG/reportXMLNew"
    _ANSWER = re.compile(r"^\s*(?:ERROR\s*:\s*)?(\d{3})\s*[,\s]", re.IGNORECASE)
    _MSG_ID = re.compile(r"MsgID\s*=\s*(\S+)", re.IGNORECASE)
    TRANSIENT_CODES = frozenset({"403", "404", "405", "407", "408", "409", "410", "418"})

    def __init__(self):
        super().__init__()
        self.report_url = settings.SMS_GATEWAY_REPORT_URL or self.default_report_url

    def form(self, message: SmsMessage) -> dict:
        import hashlib

        from notifications.sms import is_gsm7

        username = settings.SMS_GATEWAY_USERNAME.strip()
        sender = (message.sender or settings.SMS_GATEWAY_SENDER_ID).strip()
        unicode = not is_gsm7(message.text)
        content = (html_entities(message.text) if unicode else message.text).strip()
        signed = username + sender + content + settings.SMS_GATEWAY_SECURE_KEY.strip()
        return {
            "username": username,
            "password": hashlib.sha1(  # noqa: S324 - the gateway's scheme, not our choice
                settings.SMS_GATEWAY_PASSWORD.strip().encode("latin-1", "replace")
            ).hexdigest(),
            "senderid": sender,
            "content": content,
            "smsservicetype": "unicodemsg" if unicode else "singlemsg",
            "mobileno": national_number(message.to),
            "key": hashlib.sha512(signed.encode()).hexdigest(),
            "templateid": message.dlt_template_id,
        }

    def send(self, message: SmsMessage) -> str:
        text = self._post(self.form(message)).text.strip()
        answer = self._ANSWER.match(text)
        code = answer.group(1) if answer else ""
        found = self._MSG_ID.search(text)
        if code == "402" and found:
            return found.group(1)
        if code in self.TRANSIENT_CODES:
            raise TransientSendError(f"gateway busy: {text[:300]}")
        raise PermanentSendError(f"gateway refused: {text[:300]}")

    def delivery_status(self, provider_id: str) -> str | None:
        """What MSDG's report says of the SMS it took as `provider_id`: "delivered",
        "undelivered", "expired", or None while it has no final word (only submitted). Raises
        TransientSendError when the report cannot be had now."""
        from xml.etree import ElementTree

        try:
            response = self.http.get(
                self.report_url,
                {
                    "userid": settings.SMS_GATEWAY_USERNAME,
                    "password": settings.SMS_GATEWAY_PASSWORD,
                    "msgid": provider_id,
                },
            )
        except GatewayUnreachable as exc:
            raise TransientSendError(f"report unreachable: {exc}") from exc
        if response.status_code != 200:
            raise TransientSendError(f"report HTTP {response.status_code}")
        # The report has no DTD; refusing one leaves no entity expansion to abuse, so the
        # standard parser is safe here without a dependency for it.
        if b"<!DOCTYPE" in response.content.upper():
            raise TransientSendError("report with a DTD refused")
        try:
            dept = ElementTree.fromstring(response.content)  # noqa: S314 - no DTD, see above
        except ElementTree.ParseError as exc:
            raise TransientSendError(f"report not XML: {response.text[:200]}") from exc

        def count(tag: str) -> int:
            value = (dept.findtext(tag) or "0").strip()
            return int(value) if value.isdigit() else 0

        def numbers(tag: str) -> list[str]:
            return [(no.text or "").strip().upper() for no in dept.iterfind(f"{tag}/no")]

        if count("delvSMSCount") or numbers("del"):
            return "delivered"
        failed = numbers("fld") + numbers("undelv")
        if count("fldSMSCount") or failed:
            return "expired" if any("EXPIRED" in text for text in failed) else "undelivered"
        return None


class GupshupSmsBackend(_FormGatewayBackend):
    """Gupshup Enterprise SMS (`GatewayAPI/rest`, method SendMessage): form fields `userid`,
    `password`, `auth_scheme=plain`, `v=1.1`, `format=json`, `send_to` (with the country code),
    `msg` (UTF-8; `msg_type` TEXT, or Unicode_text for Hindi), `mask` (the sender id),
    `principalEntityId` and `dltTemplateId`. The JSON answer's `response.status` is "success"
    with the message `id`, or "error" with an error code in `id` and `details` (final)."""

    default_url = "https://enterprise.smsgupshup.com/GatewayAPI/rest"

    def form(self, message: SmsMessage) -> dict:
        from notifications.sms import is_gsm7

        return {
            "method": "SendMessage",
            "userid": settings.SMS_GATEWAY_USERNAME,
            "password": settings.SMS_GATEWAY_PASSWORD,
            "auth_scheme": "plain",
            "v": "1.1",
            "format": "json",
            "send_to": national_number(message.to),
            "msg": message.text,
            "msg_type": "TEXT" if is_gsm7(message.text) else "Unicode_text",
            "mask": message.sender or settings.SMS_GATEWAY_SENDER_ID,
            "principalEntityId": message.dlt_entity_id,
            "dltTemplateId": message.dlt_template_id,
        }

    def send(self, message: SmsMessage) -> str:
        response = self._post(self.form(message))
        try:
            answer = (response.json() or {}).get("response") or {}
        except (ValueError, AttributeError):
            raise TransientSendError(f"gateway answer not JSON: {response.text[:300]}") from None
        if answer.get("status") == "success" and answer.get("id"):
            return str(answer["id"])
        raise PermanentSendError(
            f"gateway refused: {answer.get('id', '')} {answer.get('details', '')}"[:300]
        )


SMS_BACKENDS = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "http": HttpSmsBackend,
    "nic": NicSmsBackend,
    "msdg": MsdgSmsBackend,
    "gupshup": GupshupSmsBackend,
}


def sms_backend_class() -> type[BaseSmsBackend]:
    name = settings.SMS_BACKEND
    return SMS_BACKENDS.get(name) or import_string(name)


def get_sms_backend() -> BaseSmsBackend:
    return sms_backend_class()()


# Django's e-mail backends that write locally (nothing to overlap: one sending thread).
LOCAL_EMAIL_BACKENDS = frozenset(
    f"django.core.mail.backends.{name}.EmailBackend"
    for name in ("locmem", "console", "filebased", "dummy")
)


def sms_senders_wanted() -> int:
    concurrent = getattr(sms_backend_class(), "concurrent", True)
    return settings.SMS_MAX_IN_FLIGHT if concurrent else 1


def email_senders_wanted() -> int:
    local = settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS
    return 1 if local else settings.EMAIL_MAX_IN_FLIGHT


@dataclass
class EmailMessageData:
    to: str
    subject: str
    text: str
    html: str
    notification_id: int | None = None
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)


class EmailSender:
    """Django's e-mail (settings.EMAIL_BACKEND), one connection per dispatcher run."""

    def __init__(self):
        self.connection = get_connection(fail_silently=False)
        self.domain = urlsplit(settings.SITE_URL).hostname or "localhost"
        self._opened = False

    def send(self, data: EmailMessageData) -> str:
        if not self._opened:
            self.connection.open()
            self._opened = True
        # Our own Message-ID (also the provider id); make_msgid would otherwise look up the
        # host name for every message.
        message_id = make_msgid(domain=self.domain)
        message = EmailMultiAlternatives(
            subject=data.subject,
            body=data.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[data.to],
            headers={"Message-ID": message_id, "X-Notification-Id": str(data.notification_id)},
            connection=self.connection,
        )
        message.attach_alternative(data.html, "text/html")
        for filename, content, mimetype in data.attachments:
            message.attach(filename, content, mimetype)
        try:
            sent = self.connection.send_messages([message])
        except Exception:
            # A broken connection is not reused: the next message opens a fresh one.
            self.close()
            raise
        if not sent:
            raise TransientSendError("the e-mail backend accepted no message")
        return message_id

    def close(self) -> None:
        if self._opened:
            self._opened = False
            try:
                self.connection.close()
            except Exception:
                logger.warning("Closing the e-mail connection failed", exc_info=True)


def appointment_calendar(*, context: dict, language: str) -> bytes | None:
    """The booking's calendar file, from a message's context (slots.messages): the one file
    the e-mail attaches and the slip's calendar.ics serves, so for the same booking state both
    are the same event — one UID per booking, the SEQUENCE the context carries (how often the
    booking's time changed: slots.selectors.TIME_CHANGES) and times in UTC. None when the
    context names no appointment time."""
    from notifications.rendering import LANGUAGES, parse_time

    slot = context.get("slot") or {}
    starts_at = parse_time(slot.get("starts_at"))
    if starts_at is None:
        return None
    language = language if language in LANGUAGES else "en"
    hindi = language == "hi"
    office = context.get("office") or {}
    service = context.get("service") or {}
    office_name = (hindi and office.get("name_hi")) or office.get("name", "")
    service_name = (hindi and service.get("name_hi")) or service.get("name", "")
    address = (hindi and office.get("address_hi")) or office.get("address", "")
    reference = context.get("reference", "")
    with translation.override(language):
        description = gettext(
            "Reference %(reference)s. Bring your documents and this reference to the office."
        ) % {"reference": reference}
    return appointment_ics_cached(
        reference=reference,
        starts_at=starts_at,
        ends_at=parse_time(slot.get("ends_at")),
        summary=f"{service_name} – {office_name}",
        location=", ".join(part for part in (office_name, address) if part),
        description=description,
        url=(context.get("links") or {}).get("booking", ""),
        sequence=int(context.get("calendar_sequence") or 0),
    )


def appointment_ics(
    *,
    reference: str,
    starts_at: datetime,
    ends_at: datetime | None,
    summary: str,
    location: str,
    description: str,
    url: str,
    sequence: int = 0,
) -> bytes:
    """The appointment as an iCalendar file; the UID is stable per booking, so a calendar
    replaces the old time when a moved booking's file (a higher SEQUENCE) is opened. Times are
    written in UTC ("…Z"): every calendar reads them without a VTIMEZONE."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//RTO Slot Booking//rto.example.in//")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    event.add("uid", f"{reference}@{domain}")
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.now(tz=UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", (ends_at or starts_at + timedelta(minutes=30)).astimezone(UTC))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("url", url)
    calendar.add_component(event)
    return calendar.to_ical()


_ICS_CACHE: dict[tuple, bytes] = {}
_ICS_CACHE_SIZE = 4096


def appointment_ics_cached(*, reference: str, description: str, url: str, **kwargs) -> bytes:
    """`appointment_ics`, built once per slot, office and text and reused for every booking.

    Hundreds of bookings of one slot differ only by their reference, so the file is built
    with a placeholder of the same length (hence the same line folding) in its place, and the
    reference is substituted in the bytes. If the placeholder does not come out intact (a fold
    split it), the file is built normally.
    """
    if not (reference.isascii() and reference.isalnum()):
        return appointment_ics(reference=reference, description=description, url=url, **kwargs)
    placeholder = ("Zq7Xk9" * (len(reference) // 6 + 1))[: len(reference)]
    description_t = description.replace(reference, placeholder)
    url_t = url.replace(reference, placeholder)
    key = (
        placeholder,
        description_t,
        url_t,
        *sorted((name, str(value)) for name, value in kwargs.items()),
    )
    template = _ICS_CACHE.get(key)
    if template is None:
        template = appointment_ics(
            reference=placeholder, description=description_t, url=url_t, **kwargs
        )
        expected = 1 + description_t.count(placeholder) + url_t.count(placeholder)
        if template.count(placeholder.encode()) != expected:
            return appointment_ics(reference=reference, description=description, url=url, **kwargs)
        if len(_ICS_CACHE) >= _ICS_CACHE_SIZE:
            _ICS_CACHE.clear()
        _ICS_CACHE[key] = template
    return template.replace(placeholder.encode(), reference.encode())
