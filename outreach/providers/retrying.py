"""The one retry policy of every provider request (tenacity), and the one budget of attempts.

**The budget.** A provider request (a Mail Send, a Twilio create, a page of a lookup or of a
suppression list) is made at most ``max_retries + 1`` times, whatever it meets: 429, 5xx, a
connection that could not be made. ``max_retries`` is ``ENRICH_PROVIDER_MAX_RETRIES`` (5, so six
attempts), the same for SendGrid and Twilio. Once it is spent the caller raises
:class:`~outreach.errors.ProviderUnavailable`, which the Prefect tasks never retry
(:mod:`flows.tasks`): the unsent messages stay pending for the next run. Prefect retries a task
only for what no channel retried (a locked or lost database, an outbox that could not write), so
one request is tried at most ``max_retries + 1`` times per run, never ``(max_retries + 1) *
(task retries + 1)``.

**Between attempts** the wait doubles from the provider's first wait up to a cap, unless a 429
said when to come back (``X-RateLimit-Reset`` or ``Retry-After``; :func:`rate_limit_wait`).
``sleep`` is injected, so tests run on a fake clock.

**Never retried here:** an answer that refuses the request (4xx other than 429), and a send that
went out without an answer (a timeout, a dropped connection): it may have been accepted, so it
is in doubt and is settled by evidence (a lookup, webhook events), never sent again blindly. An
attempt is tried again only when it raises :class:`Retryable`; anything else passes through.
"""

from __future__ import annotations

import math
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
import tenacity
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

T = TypeVar("T")
# A provider's "come back at" is honoured within these bounds (a clock a little off, or a
# reset far away, must neither spin nor stall a run).
MIN_RATE_LIMIT_WAIT = 0.25
MAX_RATE_LIMIT_WAIT = 60.0


def retryable_status(status: int | None) -> bool:
    """True for an answer worth another attempt: throttled (429) or a server error (5xx)."""
    return status is not None and (status == 429 or status >= 500)


def never_sent(err: BaseException) -> bool:
    """True when the connection itself failed, so the request cannot have reached the
    provider: worth another attempt even for a send. urllib (SendGrid's client) raises
    URLError only while connecting or sending; requests (Twilio's) says so in its reason."""
    if isinstance(err, urllib.error.URLError):
        return not isinstance(err, urllib.error.HTTPError)  # an HTTPError is an answer
    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError) and err.args:
        reason = getattr(err.args[0], "reason", err.args[0])
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


class Retryable(Exception):
    """Raised by an attempt whose outcome is worth another one (chain the original error).

    ``status``: the HTTP status, None when no connection could be made. ``wait``: seconds the
    provider asked us to wait, if it said. ``detail``: what an error may name (no personal data).
    """

    def __init__(self, *, status: int | None, wait: float | None = None, detail: str = "") -> None:
        super().__init__(detail or (f"HTTP {status}" if status else "no connection"))
        self.status = status
        self.wait = wait
        self.detail = detail


@dataclass(frozen=True)
class Backoff:
    """Seconds before the first retry, doubling per attempt up to ``cap``."""

    first: float
    cap: float = 30.0


class _Wait(tenacity.wait.wait_base):
    """The provider's own hint when the last attempt carried one, else exponential backoff."""

    def __init__(self, backoff: Backoff) -> None:
        self._exponential = tenacity.wait_exponential(multiplier=backoff.first, max=backoff.cap)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, Retryable) and error.wait is not None:
            return error.wait
        return self._exponential(retry_state)


def call_with_retries(
    attempt: Callable[[], T],
    *,
    max_retries: int,
    backoff: Backoff,
    sleep: Callable[[float], None],
    give_up: Callable[[Retryable, int], Exception],
    before_retry: Callable[[], None] | None = None,
) -> T:
    """``attempt()``, again after each :class:`Retryable` until ``max_retries + 1`` attempts.

    When they are spent, raises ``give_up(last, attempts)`` chained to the last attempt's
    error. ``before_retry`` runs before each wait; whatever it raises ends the retries.
    """
    attempts = max(0, max_retries) + 1
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        retry=tenacity.retry_if_exception_type(Retryable),
        wait=_Wait(backoff),
        sleep=sleep,
        before_sleep=(lambda _state: before_retry()) if before_retry is not None else None,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except Retryable as last:
        raise give_up(last, attempts) from (last.__cause__ or last)


def rate_limit_wait(headers: Any, clock: Callable[[], float]) -> float | None:
    """Seconds a 429 asks us to wait: until ``X-RateLimit-Reset`` (unix seconds), or
    ``Retry-After`` (seconds or an HTTP date); None when it says neither. ``headers``: any
    mapping with ``get`` (the response's headers, looked up as the client does)."""
    headers = headers or {}
    wait: float | None = None
    reset = headers.get("X-RateLimit-Reset")
    after = headers.get("Retry-After")
    if reset is not None:
        wait = _number(reset)
        wait = None if wait is None else wait - clock()
    if wait is None and after is not None:
        wait = _number(after)
        if wait is None:
            try:
                wait = parsedate_to_datetime(str(after)).timestamp() - clock()
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        return None
    return min(max(wait, MIN_RATE_LIMIT_WAIT), MAX_RATE_LIMIT_WAIT)


def _number(value: Any) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None
