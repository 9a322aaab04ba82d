"""An in-memory sliding-window rate limit per client for token lookups.

The counts live in this process only: with several worker processes each keeps its own window,
so the effective limit is the limit times the number of workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class SlidingWindow:
    """At most ``limit`` hits per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Count a hit; None when allowed, else the seconds to wait (for Retry-After)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return None

    def _prune(self, now: float) -> None:
        # Bounded memory under many clients: forget keys whose window has passed.
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
