"""Keeps requests from several threads under a provider's rate limit."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Pacer:
    """Hands out start times at least ``1 / per_second`` apart, across all threads.

    Any window of ``w`` seconds then holds at most ``w * per_second + 1`` starts. ``clock`` and
    ``sleep`` are injectable so tests can run on a fake clock.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller's turn."""
        with self._lock:
            now = self._clock()
            slot = now if self._next is None else max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
