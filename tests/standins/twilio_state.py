"""What the Twilio stand-in remembers, and a receiver for the webhooks it sends back.

:class:`TwilioState` holds the accepted messages, the failures queued for the next requests,
the request timestamps and in-flight counts a test checks pacing with, and the status callbacks
still due. :meth:`TwilioState.flush_webhooks` sends those, signed as Twilio signs them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "standin-auth-token"
POOL_NUMBER = "+15005550006"  # the sender a messaging service picks


@dataclass
class StoredMessage:
    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    outreach_id: int | None
    status: str
    date_created: datetime
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    error_code: int | None = None
    order: int = 0


@dataclass(frozen=True)
class Failure:
    """One injected failure: an HTTP status, or a delay (after accepting the message or not)."""

    status: int | None = None
    delay: float = 0.0
    accept: bool = False
    method: str = "POST"


@dataclass(frozen=True)
class Webhook:
    url: str
    params: dict[str, str]
    status_code: int | None  # None: the receiver could not be reached


@dataclass(eq=False, repr=False)
class TwilioState:
    """Everything the stand-in remembers; every method is safe to call from any thread."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    messages_per_second: float | None = None  # above it: 429 / 20429
    latency: float = 0.0  # seconds every API request takes
    validate: bool = True  # check requests against the official document
    # ``To`` number -> (final status, error code) of its status callbacks; default delivered.
    delivery_outcomes: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    messages: list[StoredMessage] = field(default_factory=list)
    spec_errors: list[str] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)  # monotonic, every API request
    create_times: list[float] = field(default_factory=list)  # monotonic, every POST
    webhooks: list[Webhook] = field(default_factory=list)
    max_in_flight: int = 0
    in_flight: int = 0
    answered: int = 0  # API requests whose handler has finished, answer and wait included
    _failures: deque[Failure] = field(default_factory=deque)
    _pending: deque[tuple[str, str, int | None]] = field(default_factory=deque)
    _accepted_times: deque[float] = field(default_factory=deque)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- test controls -------------------------------------------------------------------------

    def wait_answered(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` API requests were fully handled: a client that gave up early
        does not know when the stand-in has finished with its request."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.answered >= count:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the stand-in answered {self.answered} of {count}")
            time.sleep(0.01)

    def fail_next(
        self,
        status: int | None = None,
        *,
        delay: float = 0.0,
        accept: bool = False,
        times: int = 1,
        method: str = "POST",
    ) -> None:
        """Queue failures for the next requests of ``method``: an HTTP status (429, 500, 503),
        or ``delay`` seconds before answering, having stored the message first if ``accept``."""
        with self.lock:
            for _ in range(times):
                self._failures.append(Failure(status, delay, accept, method.upper()))

    def take_failure(self, method: str) -> Failure | None:
        with self.lock:
            for failure in self._failures:
                if failure.method == method:
                    self._failures.remove(failure)
                    return failure
        return None

    # -- what was accepted -----------------------------------------------------------------------

    def sent_to(self, number: str) -> list[StoredMessage]:
        with self.lock:
            return [m for m in self.messages if m.to == number]

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(m.to for m in self.messages)

    def per_outreach(self) -> Counter[int]:
        with self.lock:
            return Counter(m.outreach_id for m in self.messages if m.outreach_id is not None)

    def duplicates(self) -> dict[int, int]:
        """Outreach ids accepted more than once, with their counts."""
        return {oid: n for oid, n in self.per_outreach().items() if n > 1}

    def max_rate(self, *, window: float = 1.0, creates_only: bool = False) -> int:
        """The most requests that arrived within any ``window`` seconds."""
        with self.lock:
            times = sorted(self.create_times if creates_only else self.request_times)
        best = start = 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- API behaviour ----------------------------------------------------------------------------

    def authorized(self, header: str | None, account_sid: str) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        ok_user = secrets.compare_digest(user, self.account_sid)
        ok_password = secrets.compare_digest(password, self.auth_token)
        return ok_user and ok_password and account_sid == self.account_sid

    def over_rate(self, now: float) -> bool:
        if self.messages_per_second is None:
            return False
        with self.lock:
            while self._accepted_times and now - self._accepted_times[0] >= 1.0:
                self._accepted_times.popleft()
            if len(self._accepted_times) >= self.messages_per_second:
                return True
            self._accepted_times.append(now)
            return False

    def store(self, form: Mapping[str, str]) -> StoredMessage:
        now = datetime.now(UTC)
        service = form.get("MessagingServiceSid") or None
        callback = form.get("StatusCallback") or None
        with self.lock:
            message = StoredMessage(
                sid="SM" + secrets.token_hex(16),
                to=form["To"],
                body=form.get("Body", ""),
                from_=form.get("From") or None,
                messaging_service_sid=service,
                status_callback=callback,
                outreach_id=_oid(callback),
                status="accepted" if service else "queued",
                date_created=now,
                date_updated=now,
                order=len(self.messages),
            )
            self.messages.append(message)
            if callback:
                final, code = self.delivery_outcomes.get(message.to, ("delivered", None))
                self._pending.append((message.sid, "sent", None))
                self._pending.append((message.sid, final, code))
        return message

    def find(self, sid: str) -> StoredMessage | None:
        with self.lock:
            return next((m for m in self.messages if m.sid == sid), None)

    def listed(self, query: Mapping[str, str]) -> list[StoredMessage]:
        with self.lock:
            found = [m for m in self.messages if _matches(m, query)]
        return sorted(found, key=lambda m: (m.date_created, m.order), reverse=True)

    # -- webhooks ----------------------------------------------------------------------------------

    def flush_webhooks(self, *, timeout: float = 10.0) -> list[Webhook]:
        """Advance every message through its pending statuses and POST each status callback."""
        sent: list[Webhook] = []
        with httpx.Client(timeout=timeout) as client:
            while True:
                with self.lock:
                    if not self._pending:
                        break
                    sid, status, code = self._pending.popleft()
                    message = self.find(sid)
                    if message is None or message.status_callback is None:
                        continue
                    now = datetime.now(UTC)
                    message.status, message.error_code, message.date_updated = status, code, now
                    if status == "sent":
                        message.date_sent = now
                        message.from_ = message.from_ or POOL_NUMBER
                    params = self._callback_params(message)
                    url = message.status_callback
                sent.append(self._post(client, url, params))
        with self.lock:
            self.webhooks.extend(sent)
        return sent

    def _callback_params(self, message: StoredMessage) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_ or POOL_NUMBER,
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "SmsSid": message.sid,
            "SmsStatus": message.status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        return params

    def send_inbound(
        self, url: str, *, from_number: str, to: str, body: str = "STOP", opt_out: bool = True
    ) -> Webhook:
        """POST an inbound message (a customer's reply) to ``url``, signed like Twilio does."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_number,
            "MessageSid": "SM" + secrets.token_hex(16),
            "NumMedia": "0",
            "To": to,
        }
        if opt_out:
            params["OptOutType"] = body.strip().upper()
        with httpx.Client(timeout=10.0) as client:
            hook = self._post(client, url, params)
        with self.lock:
            self.webhooks.append(hook)
        return hook

    def _post(self, client: httpx.Client, url: str, params: dict[str, str]) -> Webhook:
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        try:
            response = client.post(
                url,
                content=urlencode(params),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                    "User-Agent": "TwilioProxy/1.1",
                },
            )
        except httpx.HTTPError:
            return Webhook(url, params, None)
        return Webhook(url, params, response.status_code)

    def deliver_automatically(self, interval: float = 0.2) -> threading.Event:
        """Flush webhooks every ``interval`` seconds in a daemon thread until the event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                self.flush_webhooks()

        threading.Thread(target=loop, name="twilio-standin-webhooks", daemon=True).start()
        return stop


def _oid(url: str | None) -> int | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("oid")
    return int(values[0]) if values and values[0].isdigit() else None


def _parse_when(text: str) -> date | datetime | None:
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _date_filter(sent: datetime | None, op: str, value: str) -> bool:
    """``DateSent`` (same day or instant), ``DateSent<`` (on or before), ``DateSent>`` (on or
    after); a message not sent yet has no ``date_sent`` and never matches."""
    when = _parse_when(value)
    if sent is None or when is None:
        return False
    left: date | datetime = sent if isinstance(when, datetime) else sent.date()
    if op == "<":
        return left <= when  # type: ignore[operator]
    if op == ">":
        return left >= when  # type: ignore[operator]
    return left == when


def _matches(message: StoredMessage, query: Mapping[str, str]) -> bool:
    if "To" in query and message.to != query["To"]:
        return False
    if "From" in query and message.from_ != query["From"]:
        return False
    for key, op in (("DateSent", "="), ("DateSent<", "<"), ("DateSent>", ">")):
        if key in query and not _date_filter(message.date_sent, op, query[key]):
            return False
    return True


@dataclass(frozen=True)
class Received:
    url: str
    form: dict[str, str]
    signature: str | None


@dataclass
class WebhookReceiver:
    """An ASGI app that answers 200 to every POST and records it, for webhook tests."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        with self.lock:
            self.received.append(
                Received(str(request.url), form, request.headers.get("x-twilio-signature"))
            )
        await Response("ok")(scope, receive, send)
