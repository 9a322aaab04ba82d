"""Email through SendGrid's v3 Mail Send API, up to 1,000 personalizations per request.

SendGrid's content is per request while every message is personal, so a group's content is
rendered once with placeholder tags and each personalization carries ``substitutions``
(:mod:`outreach.providers.sendgrid.batching` proves each message is the one it would be alone).
What SendGrid answers decides each message:

- 202 (200 in sandbox mode): accepted, ``provider_message_id`` is the ``X-Message-Id``
- 400 naming personalizations: those fail, the rest goes again; naming none: split in halves
  until the culprits stand alone; naming our settings (from, asm, categories): ConfigurationError
- 401/403, and other 4xx: ConfigurationError; 413: split in halves
- 429 (waiting until ``X-RateLimit-Reset``), 5xx and failures to connect: retried within the
  one budget of :mod:`outreach.providers.retrying`, then ProviderUnavailable. It and
  ConfigurationError carry ``partial_results`` (the messages already settled).
- no answer once the request went out: ``in_doubt`` (maybe accepted; never re-sent here)
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sendgrid
from python_http_client.exceptions import HTTPError

from outreach.channels.base import InDoubt, Message, SendResult, failed, list_unsubscribe_headers
from outreach.config import OutreachConfig, SendGridConfig
from outreach.errors import ConfigurationError, ProviderError, ProviderUnavailable
from outreach.providers.retrying import (
    Backoff,
    Retryable,
    call_with_retries,
    never_sent,
    rate_limit_wait,
    retryable_status,
)
from outreach.providers.sendgrid.batching import PROVIDER, Item, Planner, Request
from outreach.render import Renderer

API_KEY_SETTING = "ENRICH_SENDGRID_API_KEY"
MAX_PERSONALIZATIONS = 1000
# Retries of one request: 1 s, doubling to 30 s, within the budget of outreach.providers.retrying.
BACKOFF = Backoff(first=1.0, cap=30.0)
_PERSONALIZATION = re.compile(r"^personalizations\.(\d+)(?:\.(.+))?$")
_ADDRESS_FIELD = re.compile(r"^(to|cc|bcc)\.\d+\.email$")
# A 400 about these is about our settings, not about any one message.
_SETTINGS_FIELDS = ("from", "reply_to", "asm", "categories", "mail_settings", "tracking_settings")
_EMAIL = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def sendgrid_client(config: SendGridConfig) -> sendgrid.SendGridAPIClient:
    """The official client with ``config``'s API key, pointed at ``config.host``."""
    return sendgrid.SendGridAPIClient(config.api_key, host=config.host)


def display_name(message: Message) -> str:
    """Given and family name; split/join also drops line breaks a hostile name could carry."""
    return " ".join(" ".join(p for p in (message.given_name, message.family_name) if p).split())


def safe_text(text: object, limit: int = 200) -> str:
    """A provider's error text without addresses or quoted values (they may be personal)."""
    cleaned = _QUOTED.sub("<value>", _EMAIL.sub("<address>", str(text or "")))
    return " ".join(cleaned.split())[:limit]


class SendGridEmail:
    """The ``email`` channel through SendGrid (official ``sendgrid`` client)."""

    name = "email"
    provider = PROVIDER

    def __init__(
        self,
        config: OutreachConfig,
        renderer: Renderer | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if config.sendgrid is None or not config.sendgrid.api_key:
            raise ConfigurationError(f"SendGrid is not configured: set {API_KEY_SETTING}")
        self.config = config
        self.sg: SendGridConfig = config.sendgrid
        self.renderer = renderer or Renderer(config)
        self.batch_size = max(1, min(self.sg.batch_size, MAX_PERSONALIZATIONS))
        self.planner = Planner(self.renderer, self.batch_size)
        # No lookup by our id: only events prove an email was taken, nothing proves it was not.
        self.lookup_is_authoritative = False
        self.reconcile_grace = timedelta(minutes=self.sg.reconcile_grace_minutes)
        self.client = sendgrid_client(self.sg)
        self._sleep = sleep
        self._clock = clock

    # -- the request body ---------------------------------------------------------------------

    def _personalization(self, item: Item) -> dict[str, Any]:
        m = item.message
        to = {"email": m.recipient}
        if name := display_name(m):
            to["name"] = name
        p: dict[str, Any] = {
            "to": [to],
            "subject": item.subject,
            "custom_args": {"outreach_id": str(m.outreach_id)},
        }
        if item.substitutions:
            p["substitutions"] = item.substitutions
        if m.unsubscribe:
            # The planner refused messages without an unsubscribe token.
            p["headers"] = list_unsubscribe_headers(
                m, base_url=self.config.base_url, mailto=self.config.unsubscribe_mailto
            )
        return p

    def body(self, request: Request) -> dict[str, Any]:
        cfg = self.config
        body: dict[str, Any] = {
            "from": {"email": cfg.sender_email, "name": cfg.sender_name},
            "personalizations": [self._personalization(i) for i in request.items],
            "content": [
                {"type": "text/plain", "value": request.content.text},
                {"type": "text/html", "value": request.content.html},
            ],
        }
        if request.categories:
            body["categories"] = list(dict.fromkeys(request.categories))
        if self.sg.unsubscribe_group_id is not None:
            body["asm"] = {"group_id": self.sg.unsubscribe_group_id}
        if self.sg.sandbox:
            body["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return body

    # -- sending ------------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        try:
            planned, refused = self.planner.plan(messages)
            results.update(refused)
            queue = deque(planned)
            while queue:
                self._send(queue.popleft(), queue, results)
        except (ConfigurationError, ProviderError) as err:
            err.partial_results = [results[i] for i in sorted(results)]
            raise
        return [results[i] for i in range(len(messages))]

    def _send(
        self, request: Request, queue: deque[Request], results: dict[int, SendResult]
    ) -> None:
        """Settle every item of ``request`` in ``results``, or queue what is left of it."""
        try:
            response = call_with_retries(
                lambda: self._post(request),
                max_retries=self.sg.max_retries,
                backoff=BACKOFF,
                sleep=self._sleep,
                give_up=_unavailable,
            )
        except HTTPError as err:
            self._refused(request, err, queue, results)
            return
        except (OSError, http.client.HTTPException):  # sent, but no (whole) answer
            for item in request.items:
                results[item.index] = SendResult(
                    outreach_id=item.message.outreach_id,
                    ok=False,
                    provider=PROVIDER,
                    in_doubt=True,
                    error=(
                        f"no answer from SendGrid within {self.sg.timeout_seconds:g}s; "
                        "the message may have been accepted"
                    ),
                )
            return
        message_id = response.headers.get("X-Message-Id")
        for item in request.items:
            results[item.index] = SendResult(
                outreach_id=item.message.outreach_id,
                ok=True,
                provider=PROVIDER,
                provider_message_id=message_id,
                provider_status="accepted",
            )

    def _post(self, request: Request) -> Any:
        """One Mail Send; 429, 5xx and a failure to connect are :class:`Retryable`."""
        try:
            return self.client.client.mail.send.post(
                request_body=self.body(request), timeout=self.sg.timeout_seconds
            )
        except HTTPError as err:
            if not retryable_status(err.status_code):
                raise
            wait = rate_limit_wait(err.headers, self._clock) if err.status_code == 429 else None
            raise Retryable(status=err.status_code, wait=wait) from err
        except OSError as err:  # could not connect or send: SendGrid has nothing, try again
            if not never_sent(err):  # sent, but no (whole) answer: in doubt (see _send)
                raise
            raise Retryable(status=None) from err

    def _refused(
        self,
        request: Request,
        err: HTTPError,
        queue: deque[Request],
        results: dict[int, SendResult],
    ) -> None:
        status = err.status_code
        errors = _errors(err.body)
        items = request.items
        if status in (401, 403):
            raise ConfigurationError(
                f"SendGrid refused the API key ({status}): check {API_KEY_SETTING}"
            )
        if status == 413 or (status == 400 and not any(f for f, _ in errors)):
            if len(items) > 1:
                queue.extendleft(reversed(request.halves()))
                return
            reason = "too large" if status == 413 else (errors[0][1] if errors else "bad request")
            results[items[0].index] = failed(
                items[0].message, f"SendGrid refused the message ({status}): {reason}", PROVIDER
            )
            return
        if status != 400:
            raise ConfigurationError(
                f"SendGrid answered {status} to Mail Send: check ENRICH_SENDGRID_HOST"
            )
        culprits: dict[int, tuple[str, str]] = {}
        for field_name, message in errors:
            match = _PERSONALIZATION.match(field_name or "")
            if match and int(match.group(1)) < len(items):
                culprits.setdefault(int(match.group(1)), (match.group(2) or "", message))
            elif (field_name or "").split(".")[0] in _SETTINGS_FIELDS:
                raise ConfigurationError(
                    f"SendGrid refused our settings (400, {field_name}): {message}"
                )
        if not culprits:  # fields that name neither a message nor a setting
            if len(items) > 1:
                queue.extendleft(reversed(request.halves()))
                return
            culprits = {0: ("", errors[0][1])}
        for position, (where, message) in culprits.items():
            item = items[position]
            results[item.index] = SendResult(
                outreach_id=item.message.outreach_id,
                ok=False,
                provider=PROVIDER,
                error=f"SendGrid refused the message (400): {message}"
                + (f" [{where}]" if where else ""),
                contact_status="invalid" if _ADDRESS_FIELD.match(where) else None,
            )
        rest = [item for n, item in enumerate(items) if n not in culprits]
        if rest:
            queue.appendleft(replace(request, items=rest))

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        """SendGrid cannot be asked by our id: in-doubt emails are settled by webhook events."""
        return {}


def _unavailable(last: Retryable, attempts: int) -> ProviderUnavailable:
    what = f"answered {last.status}" if last.status else "could not be reached"
    return ProviderUnavailable(
        f"SendGrid {what} {attempts} times; the unsent messages stay pending",
        provider=PROVIDER,
        status=last.status,
    )


def _errors(body: bytes | str | None) -> list[tuple[str | None, str]]:
    """(field, message) pairs of SendGrid's ``{"errors": [...]}``, messages made safe."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return []
    found = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(found, list):
        return []
    return [
        (
            e.get("field") if isinstance(e.get("field"), str) else None,
            safe_text(e.get("message")) or "bad request",
        )
        for e in found
        if isinstance(e, dict)
    ]
