"""A Redis cache that fails open: when Redis is away, the cache is simply empty.

The cache holds throttle counters and small markers, nothing a booking depends on (DESIGN.md,
invariant 8: losing Redis must not stop bookings). Django's RedisCache raises
`redis.exceptions.ConnectionError` on every call while Redis is down, which would turn each
throttled API request into a 500. Here a read answers "not cached", a write is dropped, and a
rate limit lets the request through until Redis is back.

After a failure the backend does not try Redis again for `RETRY_SECONDS` (a small circuit
breaker), so a request never pays more than one connect timeout, and the log gets one warning
per outage instead of one per call.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client builds a new `redis.Redis` around its pool for every call; a client is
    thread-safe and cheap to keep, and building it was a visible share of a booking's CPU."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class FailOpenRedisCache(RedisCache):
    RETRY_SECONDS = 5.0

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self.retry_seconds = float(options.pop("fail_open_retry_seconds", self.RETRY_SECONDS))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = ReusedClientRedisCacheClient
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _call(self, method: str, fallback, *args, **kwargs):
        if time.monotonic() < self._down_until:
            return fallback
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except RedisError as error:
            with self._lock:
                first = self._down_until == 0.0
                self._down_until = time.monotonic() + self.retry_seconds
            if first:
                logger.warning(
                    "Cache (Redis) unavailable, failing open: %s; retrying every %.0f s",
                    error,
                    self.retry_seconds,
                )
            return fallback
        if self._down_until:
            with self._lock:
                self._down_until = 0.0
            logger.warning("Cache (Redis) is back")
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call("set", None, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def incr(self, key, delta=1, version=None):
        # While Redis is away every counter starts again from nothing: the limit fails open.
        return self._call("incr", delta, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", [], data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, keys, version)

    def clear(self):
        return self._call("clear", False)
