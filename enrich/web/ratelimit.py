"""The landing page's rate limit per client, counted in the database every worker shares.

A fixed window of ``window`` seconds per client: the hit that takes a client past ``limit`` in
the current window is refused until the next window starts. With several ``enrich serve``
workers or machines on one database the limit holds in total, not once per process. The client
is stored as an HMAC of its address (an address is personal data); windows that have passed are
pruned, at most once per window per process.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from models.rate_limits import count_hit, prune_windows


class SharedFixedWindow:
    """At most ``limit`` hits per client in each window of ``window`` seconds."""

    def __init__(self, engine: Engine, *, limit: int, window: int, secret: bytes) -> None:
        self.engine = engine
        self.limit = limit
        self.window = window
        self._key = hmac.new(secret, b"enrich rate limit", hashlib.sha256).digest()
        self._pruned: datetime | None = None
        self._lock = threading.Lock()

    def client_key(self, address: str) -> str:
        return hmac.new(self._key, address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def _window_start(self, now: datetime) -> datetime:
        seconds = math.floor(now.timestamp() / self.window) * self.window
        return datetime.fromtimestamp(seconds, UTC)

    def hit(self, address: str, now: datetime) -> int | None:
        """Count a hit; None when allowed, else the seconds to wait (for Retry-After)."""
        start = self._window_start(now)
        with self.engine.begin() as conn:
            hits = count_hit(conn=conn, client_key=self.client_key(address), window_start=start)
        self._prune(start)
        if hits <= self.limit:
            return None
        return max(1, math.ceil((start + timedelta(seconds=self.window) - now).total_seconds()))

    def _prune(self, start: datetime) -> None:
        with self._lock:
            if self._pruned == start:
                return
            self._pruned = start
        with self.engine.begin() as conn:
            prune_windows(conn=conn, before=start)
