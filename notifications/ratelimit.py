"""The SMS gateway's rate: a token bucket per dispatcher run, a shared count per second.

A gateway takes at most so many messages a second (TPS) from one account and answers 429 above
it. One dispatcher run sends from many threads; several runs (prefork children, other workers)
may send at once. So each run spends tokens from its own bucket (smooth: at most a tenth of a
second's worth in a burst), and before a run spends a handful of tokens it adds them to a count
kept in the cache under the current wall-clock second: once every run of the deployment has
together taken `rate` in that second, they all wait for the next one. A 429 with `Retry-After`
pauses every run (also through the cache) until the gateway said to come back.

When the cache cannot answer (Redis away), the per-run bucket alone applies: a deployment with
several runs may then go over the rate, which the gateway answers with 429, which is obeyed.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

WINDOW_KEY = "notifications:sms-rate:{second}"
PAUSE_KEY = "notifications:sms-rate:pause"


class RateLimiter:
    """`acquire()` blocks until one more send is allowed; `pause(seconds)` stops every send."""

    def __init__(self, rate: float, *, shared: bool = True):
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.shared = shared
        # Tokens taken from the shared per-second count and not spent yet, and its second.
        self.chunk = max(1, int(self.rate // 20))
        self.allowance = 0
        self.allowance_second = -1
        self.paused_until = 0.0  # monotonic
        self._lock = threading.Lock()

    def acquire(self, *, stop_at: float) -> bool:
        """Wait for a token; False (no token taken) if none comes before monotonic `stop_at`."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._try_take(now)
                if wait <= 0:
                    return True
            if now + wait >= stop_at:
                return False
            time.sleep(wait)

    def _try_take(self, now: float) -> float:
        """Take a token (returns 0) or say how long to wait before trying again."""
        if now < self.paused_until:
            return self.paused_until - now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return (1 - self.tokens) / self.rate
        if self.shared:
            wait = self._shared_take()
            if wait > 0:
                return wait
        self.tokens -= 1
        return 0.0

    def _shared_take(self) -> float:
        wall = time.time()
        second = int(wall)
        if self.allowance > 0 and self.allowance_second == second:
            self.allowance -= 1
            return 0.0
        try:
            paused = cache.get(PAUSE_KEY)
            if paused is not None and float(paused) > wall:
                self.paused_until = time.monotonic() + float(paused) - wall
                return float(paused) - wall
            key = WINDOW_KEY.format(second=second)
            cache.add(key, 0, timeout=5)
            total = cache.incr(key, self.chunk)
        except Exception:  # the cache is away: the run's own bucket still holds the rate
            logger.debug("Shared SMS rate count unavailable", exc_info=True)
            return 0.0
        if total is None:
            return 0.0
        granted = min(self.chunk, max(1, int(self.rate)) - (int(total) - self.chunk))
        if granted <= 0:
            return max(0.001, second + 1 - wall)
        self.allowance, self.allowance_second = granted - 1, second
        return 0.0

    def pause(self, seconds: float) -> None:
        """The gateway said "too many" and when to come back: nobody sends until then."""
        seconds = max(0.0, min(float(seconds), 300.0))
        with self._lock:
            self.paused_until = max(self.paused_until, time.monotonic() + seconds)
            self.tokens = 0.0
        if self.shared:
            try:
                cache.set(PAUSE_KEY, time.time() + seconds, timeout=int(seconds) + 2)
            except Exception:
                logger.debug("Could not share the gateway's pause", exc_info=True)
