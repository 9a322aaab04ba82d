"""Email through SendGrid's v3 Mail Send API, up to 1,000 personalizations per request.

SendGrid's content is per request while every message is personal, so a group's content is
rendered once with placeholder tags and each personalization carries ``substitutions``; a
message whose own render they do not reproduce exactly goes in a request of its own.
What SendGrid answers decides each message:

- 202 (200 in sandbox mode): accepted, ``provider_message_id`` is the ``X-Message-Id``
- 400 naming personalizations: those fail, the rest goes again; naming none: split in halves
  until the culprits stand alone; naming our settings (from, asm, categories): ConfigurationError
- 401/403, and other 4xx: ConfigurationError; 413: split in halves
- 429: wait until ``X-RateLimit-Reset``; 5xx and failures to connect: exponential backoff, then
  ProviderUnavailable. Both errors carry ``partial_results`` (the messages already settled).
- no answer once the request went out: ``in_doubt`` (maybe accepted; never re-sent here)
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.error import URLError

import sendgrid
from markupsafe import escape
from python_http_client.exceptions import HTTPError

from outreach.channels.base import InDoubt, Message, SendResult, failed
from outreach.config import OutreachConfig, SendGridConfig
from outreach.errors import ConfigurationError, ProviderError, ProviderUnavailable, RenderError
from outreach.render import RenderedEmail, Renderer
from outreach.tokens import token_from_link, unsubscribe_link

PROVIDER = "sendgrid"
API_KEY_SETTING = "ENRICH_SENDGRID_API_KEY"
MAX_PERSONALIZATIONS = 1000
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization (keys and values)
BACKOFF_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
MAX_RATE_LIMIT_WAIT = 60.0
MAX_RATE_LIMIT_WAITS = 20  # per request; then ProviderUnavailable
# Placeholders: nothing in them is changed by HTML escaping or by a URL.
_TAG_PREFIX = "[[enrich:"
_PERSONALIZATION = re.compile(r"^personalizations\.(\d+)(?:\.(.+))?$")
_ADDRESS_FIELD = re.compile(r"^(to|cc|bcc)\.\d+\.email$")
# A 400 about these is about our settings, not about any one message.
_SETTINGS_FIELDS = ("from", "reply_to", "asm", "categories", "mail_settings", "tracking_settings")
_EMAIL = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _tag(name: str, part: str) -> str:
    return f"{_TAG_PREFIX}{name}:{part}]]"


def sendgrid_client(config: SendGridConfig) -> sendgrid.SendGridAPIClient:
    """The official client with ``config``'s API key, pointed at ``config.host``."""
    return sendgrid.SendGridAPIClient(config.api_key, host=config.host)


def display_name(message: Message) -> str:
    """Given and family name; split/join also drops line breaks a hostile name could carry."""
    return " ".join(" ".join(p for p in (message.given_name, message.family_name) if p).split())


def list_unsubscribe_headers(config: OutreachConfig, message: Message) -> dict[str, str]:
    """One-click unsubscribe (RFC 8058), the same values the email outbox writes."""
    token = token_from_link(message.link)
    return {
        "List-Unsubscribe": (
            f"<mailto:{config.unsubscribe_mailto}?subject=unsubscribe-{message.outreach_id}>, "
            f"<{unsubscribe_link(config.base_url, token)}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def safe_text(text: object, limit: int = 200) -> str:
    """A provider's error text without addresses or quoted values (they may be personal)."""
    cleaned = _QUOTED.sub("<value>", _EMAIL.sub("<address>", str(text or "")))
    return " ".join(cleaned.split())[:limit]


def substitute(text: str, substitutions: Mapping[str, str]) -> str:
    """What SendGrid does with a personalization's substitutions."""
    for tag, value in substitutions.items():
        text = text.replace(tag, value)
    return text


@dataclass
class _Item:
    index: int  # position in the send_batch input
    message: Message
    rendered: RenderedEmail
    substitutions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Request:
    items: list[_Item]
    content: RenderedEmail  # text and HTML for every personalization (subjects are their own)
    categories: tuple[str, ...]

    def halves(self) -> list[_Request]:
        mid = len(self.items) // 2
        return [replace(self, items=self.items[:mid]), replace(self, items=self.items[mid:])]


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
        self.reconcile_grace = timedelta(minutes=self.sg.reconcile_grace_minutes)
        self.client = sendgrid_client(self.sg)
        self._sleep = sleep
        self._clock = clock

    # -- planning: shared content with substitutions ------------------------------------------

    def _shape(self, message: Message) -> tuple[Any, ...] | None:
        """What the shared render depends on; None when the link carries no token."""
        token = token_from_link(message.link)
        if not token or not message.link.rstrip("/").endswith(token):
            return None
        prefix = message.link.rstrip("/")[: -len(token)]
        return (
            message.template,
            message.locale,
            bool(message.given_name),
            bool(message.family_name),
            message.code is not None,
            prefix,
        )

    def _placeholder_render(self, message: Message, prefix: str, part: str) -> RenderedEmail:
        stand_in = replace(
            message,
            outreach_id=0,
            link=prefix + _tag("token", part),
            given_name=_tag("given", part) if message.given_name else None,
            family_name=_tag("family", part) if message.family_name else None,
            code=_tag("code", part) if message.code is not None else None,
        )
        return self.renderer.email(stand_in)

    def _shared(self, message: Message, cache: dict[Any, RenderedEmail | None]) -> Any:
        shape = self._shape(message)
        if shape is None:
            return None
        if shape not in cache:
            try:
                text = self._placeholder_render(message, shape[-1], "t")
                html = self._placeholder_render(message, shape[-1], "h")
                cache[shape] = RenderedEmail(subject="", text=text.text, html=html.html)
            except RenderError:
                cache[shape] = None
        return cache[shape]

    @staticmethod
    def _substitutions(item: _Item, shared: RenderedEmail) -> dict[str, str] | None:
        """The item's substitutions if they reproduce its own render exactly, else None."""
        m = item.message
        values = {
            "token": token_from_link(m.link),
            "given": m.given_name or None,
            "family": m.family_name or None,
            "code": m.code,
        }
        subs: dict[str, str] = {}
        for name, value in values.items():
            if value is None:
                continue
            if _TAG_PREFIX in value:
                return None
            for part, content in (("t", shared.text), ("h", shared.html)):
                if _tag(name, part) in content:
                    subs[_tag(name, part)] = value if part == "t" else str(escape(value))
        size = sum(len(k.encode()) + len(v.encode()) for k, v in subs.items())
        if (
            size > MAX_SUBSTITUTION_BYTES
            or _TAG_PREFIX in item.rendered.subject
            or substitute(shared.text, subs) != item.rendered.text
            or substitute(shared.html, subs) != item.rendered.html
        ):
            return None
        return subs

    def _plan(self, items: Sequence[_Item]) -> list[_Request]:
        """Requests of at most batch_size personalizations sharing content and categories."""
        cache: dict[Any, RenderedEmail | None] = {}
        groups: dict[tuple[Any, ...], list[_Item]] = {}
        contents: dict[tuple[Any, ...], RenderedEmail] = {}
        alone: list[_Request] = []
        for item in items:
            shared = self._shared(item.message, cache)
            subs = self._substitutions(item, shared) if shared is not None else None
            if shared is None or subs is None:
                alone.append(_Request([item], item.rendered, item.message.categories))
                continue
            item.substitutions = subs
            key = (item.message.categories, shared.text, shared.html)
            groups.setdefault(key, []).append(item)
            contents[key] = shared
        planned = [
            _Request(group[i : i + self.batch_size], contents[key], key[0])
            for key, group in groups.items()
            for i in range(0, len(group), self.batch_size)
        ]
        return planned + alone

    # -- the request body ---------------------------------------------------------------------

    def _personalization(self, item: _Item) -> dict[str, Any]:
        m = item.message
        to = {"email": m.recipient}
        if name := display_name(m):
            to["name"] = name
        p: dict[str, Any] = {
            "to": [to],
            "subject": item.rendered.subject,
            "custom_args": {"outreach_id": str(m.outreach_id)},
        }
        if item.substitutions:
            p["substitutions"] = item.substitutions
        if m.unsubscribe:
            p["headers"] = list_unsubscribe_headers(self.config, m)
        return p

    def body(self, request: _Request) -> dict[str, Any]:
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
            items: list[_Item] = []
            for index, message in enumerate(messages):
                try:
                    rendered = self.renderer.email(message)
                except RenderError as err:
                    results[index] = failed(message, str(err), PROVIDER)
                    continue
                if "@" not in message.recipient:
                    results[index] = failed(message, "recipient is not an email address", PROVIDER)
                    continue
                items.append(_Item(index, message, rendered))
            queue = deque(self._plan(items))
            while queue:
                self._send(queue.popleft(), queue, results)
        except (ConfigurationError, ProviderError) as err:
            err.partial_results = [results[i] for i in sorted(results)]
            raise
        return [results[i] for i in range(len(messages))]

    def _send(
        self, request: _Request, queue: deque[_Request], results: dict[int, SendResult]
    ) -> None:
        """Settle every item of ``request`` in ``results``, or queue what is left of it."""
        attempts = rate_waits = 0
        while True:
            try:
                response = self.client.client.mail.send.post(
                    request_body=self.body(request), timeout=self.sg.timeout_seconds
                )
            except HTTPError as err:
                if err.status_code == 429:
                    rate_waits += 1
                    if rate_waits > MAX_RATE_LIMIT_WAITS:
                        raise self._unavailable(429, rate_waits) from err
                    self._sleep(self._rate_limit_wait(err.headers))
                    continue
                if err.status_code >= 500:
                    attempts += 1
                    self._back_off(attempts, err.status_code, err)
                    continue
                self._refused(request, err, queue, results)
                return
            except URLError as err:  # could not connect or send: SendGrid has nothing
                attempts += 1
                self._back_off(attempts, None, err)
                continue
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
            return

    def _unavailable(self, status: int | None, attempts: int) -> ProviderUnavailable:
        what = f"answered {status}" if status else "could not be reached"
        return ProviderUnavailable(
            f"SendGrid {what} {attempts} times; the unsent messages stay pending",
            provider=PROVIDER,
            status=status,
        )

    def _back_off(self, attempts: int, status: int | None, err: Exception) -> None:
        if attempts > self.sg.max_retries:
            raise self._unavailable(status, attempts) from err
        self._sleep(min(BACKOFF_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))

    def _rate_limit_wait(self, headers: Any) -> float:
        """Seconds until X-RateLimit-Reset (unix seconds), within sane bounds."""
        try:
            reset = float(str((headers or {}).get("X-RateLimit-Reset")))
        except ValueError:
            return BACKOFF_SECONDS
        return min(max(reset - self._clock(), 0.25), MAX_RATE_LIMIT_WAIT)

    def _refused(
        self,
        request: _Request,
        err: HTTPError,
        queue: deque[_Request],
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
