"""What the SendGrid stand-in knows: the messages it accepted, the scripted outcomes of the next
requests, its suppression lists, and the signed Event Webhook batches it owes the app."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

MAIL_SPEC = "tsg_mail_v3.json"
SUPPRESSION_SPEC = "tsg_suppressions_v3.json"
STANDIN_API_KEY = "SG.standin-api-key"
SUPPRESSION_LISTS = ("bounces", "blocks", "invalid_emails", "spam_reports")
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SUBSTITUTION_BYTES = 10_000
MAX_BODY_BYTES = 30 * 1024 * 1024
DEFAULT_PAGE_SIZE = 500
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


@dataclass(frozen=True)
class Outcome:
    """What the next request gets instead of normal handling.

    ``status`` set: wait ``delay`` seconds, answer that status, record nothing. ``status`` None:
    handle the request normally (it may be accepted and recorded), then wait ``delay`` seconds
    before answering: a client that times out meanwhile does not know it was accepted.
    ``release`` set: wait for it instead, ``delay`` seconds at most (a provider that answers
    when the test says so).
    """

    status: int | None = None
    delay: float = 0.0
    release: threading.Event | None = None
    errors: tuple[dict[str, Any], ...] | None = None  # the 4xx body's errors, else a default
    reset_at: int | None = None  # X-RateLimit-Reset of a scripted 429

    @classmethod
    def fail(cls, status: int, *, delay: float = 0.0, **kw: Any) -> Outcome:
        return cls(status=status, delay=delay, **kw)

    @classmethod
    def slow_accept(cls, delay: float) -> Outcome:
        return cls(status=None, delay=delay)

    @classmethod
    def held(cls, release: threading.Event, *, timeout: float = 30.0) -> Outcome:
        """Accept the request, then answer once ``release`` is set (``timeout`` at most)."""
        return cls(status=None, delay=timeout, release=release)

    @classmethod
    def hang(cls, delay: float) -> Outcome:
        """Answer nothing for ``delay`` seconds, then 503; the request is not accepted."""
        return cls(status=503, delay=delay)


@dataclass(frozen=True)
class Delivered:
    """One accepted personalization, as its recipient would get it."""

    message_id: str  # the request's X-Message-Id
    recipient: str
    to: tuple[dict[str, str], ...]
    subject: str
    text: str | None
    html: str | None
    custom_args: dict[str, str]
    headers: dict[str, str]
    categories: tuple[str, ...]
    asm: dict[str, Any] | None
    sender: dict[str, str]

    @property
    def outreach_id(self) -> str | None:
        return self.custom_args.get("outreach_id")


@dataclass
class SendGridState:
    """Configuration, scripted outcomes and everything the stand-in saw; safe across threads."""

    api_key: str = STANDIN_API_KEY
    max_body_bytes: int = MAX_BODY_BYTES
    invalid: set[str] = field(default_factory=set)  # addresses refused with a field-named 400
    unnamed_rejects: set[str] = field(default_factory=set)  # refused with a 400 naming no field
    bounce: set[str] = field(default_factory=set)  # accepted, then a "bounce" event
    drop: set[str] = field(default_factory=set)  # accepted, then a "dropped" event
    rate_limit: int | None = None  # requests per window; None: no limit
    rate_window_seconds: int = 1
    clock: Callable[[], float] = time.time
    webhook_url: str | None = None
    webhook_key: ec.EllipticCurvePrivateKey | None = None
    webhook_auto: bool = True  # post events after each response; False: queue for flush
    delivered: list[Delivered] = field(default_factory=list)
    sandboxed: list[dict[str, Any]] = field(default_factory=list)  # bodies of sandbox requests
    requests_seen: int = 0
    requests_answered: int = 0  # mail sends whose handler has finished, answer and wait included
    suppressions: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in SUPPRESSION_LISTS}
    )

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.script: deque[Outcome] = deque()
        self._windows: Counter[int] = Counter()
        self._webhooks: list[bytes] = []

    # -- test controls -----------------------------------------------------------------------

    def push(self, *outcomes: Outcome) -> None:
        """Script the outcomes of the next requests, in order."""
        with self.lock:
            self.script.extend(outcomes)

    def wait_answered(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` mail sends were fully handled: a client that gave up early does
        not know when the stand-in has finished with its request."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.requests_answered >= count:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the stand-in answered {self.requests_answered} of {count}")
            time.sleep(0.01)

    def accepted_per_outreach(self) -> Counter[str]:
        """How many times each ``outreach_id`` custom arg was accepted (2+ is a duplicate)."""
        with self.lock:
            return Counter(d.outreach_id for d in self.delivered if d.outreach_id is not None)

    def delivered_to(self, outreach_id: int | str) -> list[Delivered]:
        with self.lock:
            return [d for d in self.delivered if d.outreach_id == str(outreach_id)]

    def seed(self, list_name: str, email: str, created: int, **fields: Any) -> None:
        """Add an entry to a suppression list (fields as the document shows, e.g. reason)."""
        defaults: dict[str, dict[str, Any]] = {
            "bounces": {"reason": "550 5.1.1 User unknown", "status": "5.1.1"},
            "blocks": {"reason": "550 5.7.1 Blocked by policy", "status": "5.7.1"},
            "invalid_emails": {"reason": "Mail domain mentioned in email address is unknown"},
            "spam_reports": {"ip": "10.63.202.100"},
        }
        with self.lock:
            self.suppressions[list_name].append(
                {"created": created, "email": email, **defaults[list_name], **fields}
            )

    def take_webhook_batches(self) -> list[tuple[bytes, dict[str, str]]]:
        """The queued event batches, signed now, as (raw body, headers); the queue empties."""
        with self.lock:
            bodies, self._webhooks = self._webhooks, []
        return [(body, self.sign(body)) for body in bodies]

    def flush_webhooks(self) -> list[int]:
        """POST the queued event batches to ``webhook_url``; the status codes answered."""
        if not self.webhook_url:
            raise RuntimeError("no webhook_url configured")
        with httpx.Client(timeout=30, trust_env=False) as client:
            return [
                client.post(self.webhook_url, content=body, headers=headers).status_code
                for body, headers in self.take_webhook_batches()
            ]

    def sign(self, body: bytes) -> dict[str, str]:
        if self.webhook_key is None:
            raise RuntimeError("no webhook_key configured")
        stamp = str(int(self.clock()))
        signature = self.webhook_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        }

    # -- request handling (called by the app) ------------------------------------------------

    def next_outcome(self) -> Outcome | None:
        with self.lock:
            self.requests_seen += 1
            return self.script.popleft() if self.script else None

    def over_rate_limit(self) -> int | None:
        """The window's reset time when this request is over the limit, else None."""
        if self.rate_limit is None:
            return None
        window = int(self.clock() // self.rate_window_seconds)
        with self.lock:
            self._windows[window] += 1
            over = self._windows[window] > self.rate_limit
        return (window + 1) * self.rate_window_seconds if over else None

    def record(self, items: list[Delivered], events: list[dict[str, Any]]) -> bytes | None:
        body = json.dumps(events).encode() if events and self.webhook_url else None
        with self.lock:
            self.delivered.extend(items)
            if body is not None and not self.webhook_auto:
                self._webhooks.append(body)
        return body if self.webhook_auto else None
