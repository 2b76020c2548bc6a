"""Local servers that speak a real gateway's protocol, for tests and bench/: no mocks.

* `GenericGateway` — the generic JSON SMS gateway of docs/API.md ("SMS gateways"): an HTTP/1.1
  server (connections kept alive) that answers each `POST` after `delay` seconds, takes at most
  `tps` messages a second (a token bucket of one second's burst; above it 429 with
  `Retry-After: 1`), and answers scripted statuses first (`respond(500, 429, …)`). Accepted
  messages get `{"id": "gw-<n>"}`. Every request is kept (body, API key, connection, status).
* `SlowSmtpServer` — aiosmtpd on a free port, taking `delay` seconds per message; it keeps each
  accepted message's `X-Notification-Id` and the time it was accepted.

Both run in this process (tests) or as a process of their own, logging every accepted message
as one JSON line (bench/bench_told.py): `python -m tests.gateways sms|smtp --log FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from collections import deque
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO


class _Bucket:
    def __init__(self, rate: float):
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog (5 by default): a client opening a hundred connections at once must
    # not be reset by the test server, which no real gateway would do.
    request_queue_size = 1024


class GenericGateway:
    """The generic JSON gateway (see the module docstring)."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        tps: float | None = None,
        api_key: str | None = None,
        log: IO[str] | None = None,
        retry_after: str | None = "1",
    ):
        self.delay = delay
        self.bucket = _Bucket(tps) if tps else None
        self.api_key = api_key
        self.retry_after = retry_after
        self.log = log
        self.requests: list[dict] = []
        self.answers: deque = deque()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections: set[int] = set()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def respond(self, *statuses: int | tuple[int, dict]) -> None:
        """Answer the next requests with these statuses, or (status, JSON) pairs, then as
        usual again."""
        with self.lock:
            self.answers.extend(statuses)

    def accepted(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def statuses(self) -> list[int]:
        with self.lock:
            return [r["status"] for r in self.requests]

    def _answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict, dict]:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            with self.lock:
                headers: dict = {}
                scripted = None
                if self.answers:
                    status = self.answers.popleft()
                    if isinstance(status, tuple):  # (status, the JSON to answer)
                        status, scripted = status
                elif self.api_key is not None and handler.headers.get("X-API-Key") != self.api_key:
                    status = 401
                elif not isinstance(body, dict) or not body.get("to") or not body.get("text"):
                    status = 400
                elif self.bucket is not None and not self.bucket.take():
                    status = 429
                else:
                    status = 200
                if status == 429 and self.retry_after is not None:
                    headers["Retry-After"] = self.retry_after
                number = len(self.requests) + 1
                record = {
                    "status": status,
                    "body": body,
                    "api_key": handler.headers.get("X-API-Key"),
                    "content_type": handler.headers.get("Content-Type"),
                    "connection": id(handler.connection),
                    "at": time.time(),
                }
                self.requests.append(record)
                self.connections.add(record["connection"])
                if 200 <= status < 300 and self.log is not None:
                    self.log.write(
                        json.dumps({"at": record["at"], "reference": body.get("reference")}) + "\n"
                    )
            if scripted is not None:
                payload = scripted
            elif 200 <= status < 300:
                payload = {"id": f"gw-{number}", "status": "queued"}
            elif status == 429:
                payload = {"error": "too many requests"}
            else:
                payload = {"error": "invalid request" if status < 500 else "upstream down"}
            return status, headers, payload
        finally:
            with self.lock:
                self.in_flight -= 1

    def start(self, port: int = 0) -> GenericGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a client may reuse its connection

            def do_POST(self):
                status, headers, payload = gateway._answer(self)
                data = json.dumps(payload).encode()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _FormGateway:
    """A gateway that takes form fields (POST body or query string) and answers in its own
    format (`reply`). Scripted answers first: `respond(503)` or `respond((200, "text"))`."""

    content_type = "text/plain"

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: deque = deque()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def respond(self, *answers) -> None:
        with self.lock:
            self.answers.extend(answers)

    def reply(self, fields: dict[str, str], number: int) -> tuple[int, str]:
        raise NotImplementedError

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> tuple[int, str]:
        from urllib.parse import parse_qs, urlsplit

        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        query = urlsplit(handler.path).query
        fields = {k: v[0] for k, v in parse_qs(raw or query, keep_blank_values=True).items()}
        with self.lock:
            number = len(self.requests) + 1
            self.requests.append(
                {
                    "method": method,
                    "path": urlsplit(handler.path).path,
                    "fields": fields,
                    "content_type": handler.headers.get("Content-Type"),
                }
            )
            scripted = self.answers.popleft() if self.answers else None
        if isinstance(scripted, tuple):
            return scripted
        if isinstance(scripted, int):
            return scripted, "error"
        return self.reply(fields, number)

    def start(self) -> _FormGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method):
                status, body = gateway._answer(self, method)
                data = body.encode()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", gateway.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def do_POST(self):
                self._serve("POST")

            def do_GET(self):
                self._serve("GET")

            def log_message(self, format, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class NicGateway(_FormGateway):
    """NIC's `HttpLink` as its integration guide describes it: `username`, `pin`, `message`,
    `mnumber`, `signature`, `dlt_entity_id`, `dlt_template_id`, `msgType=UC` with a UCS-2 hex
    message for Unicode. It answers one line of text as NIC's gateway does: "Message Accepted
    for Request ID=<23 digits>~code=API000 & info=Platform accepted & Time =…", or "Message
    Rejected for Request ID= ~code=API-<n>& info=REJECTED: <reason>& Time = …" (API-3, empty
    mnumber, is the guide's example; the other refusal codes here are this server's own)."""

    path = "/failsafe/HttpLink"

    def __init__(self, *, username: str = "rtomp", pin: str = "secret"):
        super().__init__()
        self.username, self.pin = username, pin

    @staticmethod
    def _rejected(code: str, reason: str) -> tuple[int, str]:
        return (
            200,
            f"Message Rejected for Request ID= ~code={code}& info=REJECTED: {reason}& "
            "Time = 2026/12/01/10/00",
        )

    def reply(self, fields, number):
        if (fields.get("username"), fields.get("pin")) != (self.username, self.pin):
            return self._rejected("API-1", "Invalid username or pin")
        if not fields.get("mnumber"):
            return self._rejected("API-3", "Empty mnumber")
        needed = ("message", "signature", "dlt_entity_id", "dlt_template_id")
        if any(not fields.get(name) for name in needed):
            return self._rejected("API-9", "Mandatory parameter missing")
        if fields.get("msgType") == "UC":
            try:
                text = bytes.fromhex(fields["message"]).decode("utf-16")
            except ValueError:
                return self._rejected("API-7", "Invalid unicode message")
            if not text:
                return self._rejected("API-7", "Invalid unicode message")
        elif len(fields["message"]) > 160 and fields.get("concat") != "1":
            # The guide's long text message takes `concat=1`; without it this server refuses.
            return self._rejected("API-8", "Message length more than 160 without concat")
        return (
            200,
            f"Message Accepted for Request ID=123139468985066817{number:05d}~code=API000 & "
            "info=Platform accepted & Time =2026/12/01/10/00",
        )

    def decoded(self, request: dict) -> str:
        """The text a request carried, decoded as the gateway would."""
        fields = request["fields"]
        if fields.get("msgType") == "UC":
            return bytes.fromhex(fields["message"]).decode("utf-16")
        return fields["message"]


class MsdgGateway(_FormGateway):
    """C-DAC's MSDG: `POST /esms/sendsmsrequestDLT` (username, SHA-1 password, senderid,
    content — HTML entities for `unicodemsg` —, smsservicetype, mobileno, SHA-512 `key`,
    templateid) answering "402,MsgID = <id>" or "<code>,<reason>", and the delivery report
    `GET /XMLForReportG/reportXMLNew?userid=&password=&msgid=` answering C-DAC's XML. Set what
    the report says of an id with `report(msgid, "delivered"|"failed"|"expired"|"submitted")`;
    an id nobody set is "submitted" (no final word yet)."""

    path = "/esms/sendsmsrequestDLT"
    report_path = "/XMLForReportG/reportXMLNew"

    def __init__(self, *, username="rtomp-msdg", password="secret", secure_key="key-1"):  # noqa: S107
        super().__init__()
        self.username, self.password, self.secure_key = username, password, secure_key
        self.reports: dict[str, str] = {}

    @property
    def report_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.report_path}"

    def report(self, msgid: str, state: str) -> None:
        with self.lock:
            self.reports[msgid] = state

    def reply(self, fields, number):
        import hashlib

        if fields.get("msgid") is not None or "userid" in fields:
            return self._report(fields)
        password = hashlib.sha1(self.password.encode("latin-1")).hexdigest()  # noqa: S324
        if (fields.get("username"), fields.get("password")) != (self.username, password):
            return 200, "401,Credentials Error, may be invalid username or password"
        content = fields.get("content", "")
        signed = fields.get("username", "") + fields.get("senderid", "") + content
        if fields.get("key") != hashlib.sha512((signed + self.secure_key).encode()).hexdigest():
            return 200, "416,Hash doesn't match"
        if not fields.get("mobileno", "").isdigit():
            return 200, "406,Invalid or Duplicate numbers"
        if len(fields.get("templateid", "")) not in (12, 19):
            return 200, "423,TEMPLATE_ID is mandatory and it should be 12 or 19 digit length"
        if fields.get("smsservicetype") not in {"singlemsg", "unicodemsg"}:
            return 200, "ERROR : 400 Invalid service type"
        return 200, f"402,MsgID = 1506201614660{number:08d}msdgsms"

    def _report(self, fields) -> tuple[int, str]:
        if (fields.get("userid"), fields.get("password")) != (self.username, self.password):
            return 200, "<?xml version='1.0'?><error>Invalid credentials</error>"
        msgid = fields.get("msgid", "")
        with self.lock:
            state = self.reports.get(msgid, "submitted")
        mobile = '<no mobNo="919812345678">{}</no>'
        delivered = mobile.format("DELIVRED") if state == "delivered" else ""
        failed = {"failed": mobile.format("UNDELIV"), "expired": mobile.format("EXPIRED")}
        fld = failed.get(state, "")
        sub = mobile.format("SUBMITTED") if state == "submitted" else ""
        return 200, (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<dept value="{self.username}"><msgid>{msgid}</msgid>'
            f"<delvSMSCount>{int(bool(delivered))}</delvSMSCount>"
            f"<fldSMSCount>{int(bool(fld))}</fldSMSCount>"
            f"<subSMSCount>{int(bool(sub))}</subSMSCount>"
            f"<undelv/><del>{delivered}</del><sub>{sub}</sub><fld>{fld}</fld></dept>"
        )

    def decoded(self, request: dict) -> str:
        """The text a request carried, its HTML entities decoded as the gateway would."""
        import html

        return html.unescape(request["fields"]["content"])


class GupshupGateway(_FormGateway):
    """Gupshup Enterprise's `GatewayAPI/rest` with `format=json`: `method=SendMessage`,
    `userid`, `password`, `auth_scheme=plain`, `v`, `send_to`, `msg`, `msg_type`, `mask`,
    `principalEntityId`, `dltTemplateId`; `{"response": {"id", "phone", "details", "status"}}`."""

    path = "/GatewayAPI/rest"
    content_type = "application/json"

    def __init__(self, *, userid: str = "2000123456", password: str = "secret"):  # noqa: S107
        super().__init__()
        self.userid, self.password = userid, password

    @staticmethod
    def _json(status: str, id_: str, phone: str, details: str) -> str:
        return json.dumps(
            {"response": {"id": id_, "phone": phone, "details": details, "status": status}}
        )

    def reply(self, fields, number):
        phone = fields.get("send_to", "")
        if (fields.get("userid"), fields.get("password")) != (self.userid, self.password):
            return 200, self._json("error", "105", phone, "Authentication failed")
        if fields.get("method", "").lower() != "sendmessage" or not fields.get("msg"):
            return 200, self._json("error", "101", phone, "Method or message missing")
        if fields.get("msg_type") not in {"TEXT", "Unicode_text"}:
            return 200, self._json("error", "102", phone, "Invalid message type")
        if not fields.get("dltTemplateId") or not fields.get("principalEntityId"):
            return 200, self._json("error", "300", phone, "DLT template or entity missing")
        return 200, self._json("success", f"48436716050203{number:05d}-2420971527", phone, "")

    @staticmethod
    def push_report(
        callback_url: str,
        *,
        external_id: str,
        status: str = "SUCCESS",
        cause: str = "SUCCESS",
        phone: str = "919812345678",
        err_code: str = "000",
    ) -> tuple[int, str]:
        """Call `callback_url` (the Realtime Delivery URL, with its own query such as the
        token) the way Gupshup does: a GET adding externalId, deliveredTS, status, cause,
        phoneNo, errCode, noOfFrags and mask. Returns our answer's status and body."""
        from urllib.parse import urlencode

        query = urlencode(
            {
                "externalId": external_id,
                "deliveredTS": "1764580000000",
                "status": status,
                "cause": cause,
                "phoneNo": phone,
                "errCode": err_code,
                "noOfFrags": "1",
                "mask": "RTOMPB",
            }
        )
        separator = "&" if "?" in callback_url else "?"
        return _http("GET", f"{callback_url}{separator}{query}")

    @staticmethod
    def push_events(callback_url: str, events: list[dict]) -> tuple[int, str]:
        """Gupshup's POST callback: a JSON array of (up to 20) events."""
        return _http("POST", callback_url, json.dumps(events).encode(), "application/json")


def _http(method: str, url: str, data: bytes | None = None, content_type: str = ""):
    """One real HTTP request, as a gateway's callback makes it: (status, body)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - a test URL
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class SlowSmtpServer:
    """aiosmtpd on 127.0.0.1, `delay` seconds per message (see the module docstring)."""

    def __init__(self, *, delay: float = 0.0, log: IO[str] | None = None):
        self.delay = delay
        self.log = log
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        self.controller = None

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self, port: int = 0) -> SlowSmtpServer:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, smtp_server, session, envelope):
                if server.delay:
                    await asyncio.sleep(server.delay)
                message = message_from_bytes(envelope.original_content or envelope.content)
                record = {
                    "at": time.time(),
                    "notification_id": message.get("X-Notification-Id"),
                    "to": list(envelope.rcpt_tos),
                    "subject": message.get("Subject"),
                    "peer": str(session.peer),
                }
                with server.lock:
                    server.messages.append(record)
                    if server.log is not None:
                        server.log.write(
                            json.dumps({"at": record["at"], "id": record["notification_id"]}) + "\n"
                        )
                return "250 Message accepted for delivery"

        if not port:
            from tests.live import free_port

            port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["sms", "smtp"])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--tps", type=float, default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.log, "a", buffering=1, encoding="utf-8") as log:
        if args.kind == "sms":
            server = GenericGateway(delay=args.delay, tps=args.tps, api_key=args.api_key, log=log)
            server.start()
            print(server.server.server_address[1], flush=True)
        else:
            server = SlowSmtpServer(delay=args.delay, log=log).start()
            print(server.port, flush=True)
        try:
            # Until the parent closes our stdin (or kills us by PID).
            sys.stdin.read()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
