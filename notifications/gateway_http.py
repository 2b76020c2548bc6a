"""HTTP for the SMS gateways, on urllib3 (the library under requests), used directly.

Why not requests: its per-request work (hooks, cookies, re-reading the proxy environment, merging
settings) costs about twice the CPU of the request itself — about 1.6 ms against 0.8 ms a message
on this project's VM — and a statewide outage sends tens of thousands of SMS from one worker
process, where that CPU is what bounds how soon the last applicant is told (docs/PERFORMANCE.md,
"Told in time"). What requests gave for free is kept: the proxy from the environment
(`HTTPS_PROXY`/`HTTP_PROXY`, `NO_PROXY`), read once per client instead of once per message;
certificates verified against the system's store; a kept-alive connection.

One `GatewayHttp` per sending thread (as each thread had its own session before): a pool of one
connection, reused for every message that thread sends.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import urllib3


class GatewayUnreachable(Exception):
    """No answer: connection refused or reset, DNS, TLS, or the time-out passed."""


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for this URL (as requests would use), or None."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


class GatewayHttp:
    def __init__(self, url: str, *, timeout: float, headers: dict[str, str] | None = None):
        self.url = url
        self.headers = dict(headers or {})
        options = {
            "num_pools": 1,
            "maxsize": 1,
            "retries": False,  # the dispatcher owns retries (back-off, Retry-After)
            "timeout": urllib3.Timeout(total=timeout),
        }
        proxy = _proxy_for(url)
        self.pool = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def post_json(self, body: dict) -> GatewayResponse:
        return self._request(
            "POST",
            self.url,
            json.dumps(body, ensure_ascii=False).encode("utf-8"),
            "application/json",
        )

    def post_form(self, data: dict) -> GatewayResponse:
        return self._request(
            "POST", self.url, urlencode(data).encode("utf-8"), "application/x-www-form-urlencoded"
        )

    def get(self, url: str, params: dict) -> GatewayResponse:
        """A GET of another URL of the same gateway (e.g. its delivery-report API)."""
        return self._request("GET", f"{url}?{urlencode(params)}")

    def _request(
        self, method: str, url: str, body: bytes | None = None, content_type: str = ""
    ) -> GatewayResponse:
        headers = {**self.headers, "Content-Type": content_type} if content_type else self.headers
        try:
            response = self.pool.request(method, url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            # Time-outs, refused or dropped connections, TLS failures, protocol errors.
            raise GatewayUnreachable(str(exc)) from exc
        return GatewayResponse(
            status_code=response.status,
            headers=dict(response.headers),
            content=response.data,
        )

    def close(self) -> None:
        self.pool.clear()
