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
    message for Unicode; a text answer, "Message Accepted For Request ID=<id>…" or an error."""

    path = "/failsafe/HttpLink"

    def __init__(self, *, username: str = "rtomp", pin: str = "secret"):
        super().__init__()
        self.username, self.pin = username, pin

    def reply(self, fields, number):
        if (fields.get("username"), fields.get("pin")) != (self.username, self.pin):
            return 200, "Invalid username or pin~code=API001"
        needed = ("message", "mnumber", "signature", "dlt_entity_id", "dlt_template_id")
        if any(not fields.get(name) for name in needed):
            return 200, "Mandatory parameter missing~code=API003"
        if fields.get("msgType") == "UC":
            try:
                text = bytes.fromhex(fields["message"]).decode("utf-16")
            except ValueError:
                return 200, "Invalid unicode message~code=API007"
            if not text:
                return 200, "Invalid unicode message~code=API007"
        return (
            200,
            f"Message Accepted For Request ID=12345{number:05d}~code=API000 & "
            "info=Platform Accepted & Time=2026/12/01/10:00",
        )

    def decoded(self, request: dict) -> str:
        """The text a request carried, decoded as the gateway would."""
        fields = request["fields"]
        if fields.get("msgType") == "UC":
            return bytes.fromhex(fields["message"]).decode("utf-16")
        return fields["message"]


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
