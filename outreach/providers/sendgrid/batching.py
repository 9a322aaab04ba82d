"""Which emails of a batch share one SendGrid request: content rendered once with placeholder
tags, each personalization carrying ``substitutions`` that turn it into its own message.

A message goes in a shared request only when that is provably the message it would be alone:

- its templates pass :func:`outreach.providers.sendgrid.template_safety.substitution_safe` (values
used only as
  plain output or ``if`` tests), its values are plain (no edge or repeated whitespace, nothing
  that looks like a placeholder), and the first message of its group, rendered in full, equals
  the substituted content: then the others are not rendered one by one;
- or, failing that, its own full render equals the substituted content.

Any other message goes in a request of its own, with its own render as content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from markupsafe import escape

from models.answers.link_tokens import token_from_link
from outreach.channels.base import NO_UNSUBSCRIBE_TOKEN, Message, SendResult, failed
from outreach.errors import ConfigurationError, RenderError
from outreach.providers.sendgrid.template_safety import substitution_safe
from outreach.reference import message_reference
from outreach.render import RenderedEmail, Renderer

PROVIDER = "sendgrid"
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization (keys and values)
# Placeholders: nothing in them is changed by HTML escaping or by a URL.
TAG_PREFIX = "[[enrich:"


def tag(name: str, part: str) -> str:
    return f"{TAG_PREFIX}{name}:{part}]]"


def substitute(text: str, substitutions: Mapping[str, str]) -> str:
    """What SendGrid does with a personalization's substitutions."""
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


@dataclass
class Item:
    index: int  # position in the send_batch input
    message: Message
    subject: str
    rendered: RenderedEmail | None = None  # its own render, when it was rendered alone
    substitutions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    items: list[Item]
    content: RenderedEmail  # text and HTML for every personalization (subjects are their own)
    categories: tuple[str, ...]

    def halves(self) -> list[Request]:
        mid = len(self.items) // 2
        return [replace(self, items=self.items[:mid]), replace(self, items=self.items[mid:])]


def _values(message: Message) -> dict[str, str | None]:
    return {
        "token": token_from_link(message.link),
        "unsub": message.unsubscribe_token,
        "given": message.given_name or None,
        "family": message.family_name or None,
        "code": message.code,
        "ref": message_reference(message.channel, message.outreach_id),
    }


def _plain(value: str | None) -> bool:
    return value is None or (
        value != "" and " ".join(value.split()) == value and TAG_PREFIX not in value
    )


def _substitutions(message: Message, shared: RenderedEmail) -> dict[str, str] | None:
    """The message's substitutions for the shared content; None if they are too large."""
    subs: dict[str, str] = {}
    for name, value in _values(message).items():
        if value is None:
            continue
        if TAG_PREFIX in value:  # SendGrid's order of replacing would decide: never shared
            return None
        for part, content in (("t", shared.text), ("h", shared.html)):
            if tag(name, part) in content:
                subs[tag(name, part)] = value if part == "t" else str(escape(value))
    size = sum(len(k.encode()) + len(v.encode()) for k, v in subs.items())
    return None if size > MAX_SUBSTITUTION_BYTES else subs


def _subject(message: Message, shared: RenderedEmail) -> str:
    subs = {tag(name, "t"): v for name, v in _values(message).items() if v is not None}
    return substitute(shared.subject, subs)


def _reproduces(shared: RenderedEmail, subs: Mapping[str, str], own: RenderedEmail) -> bool:
    return (
        TAG_PREFIX not in own.subject
        and substitute(shared.text, subs) == own.text
        and substitute(shared.html, subs) == own.html
    )


class Planner:
    """Plans one batch's requests; remembers which templates are substitution-safe."""

    def __init__(self, renderer: Renderer, batch_size: int) -> None:
        self.renderer = renderer
        self.batch_size = batch_size
        self._safe: dict[tuple[str, str], bool] = {}

    def plan(self, messages: Sequence[Message]) -> tuple[list[Request], dict[int, SendResult]]:
        """(requests, {index: result} for messages that cannot be sent at all)."""
        shared_by_shape: dict[Any, RenderedEmail | None] = {}
        proven: dict[Any, bool] = {}  # shape -> its first message reproduced exactly
        groups: dict[tuple[Any, ...], list[Item]] = {}
        contents: dict[tuple[Any, ...], RenderedEmail] = {}
        alone: list[Request] = []
        refused: dict[int, SendResult] = {}
        for index, message in enumerate(messages):
            if "@" not in message.recipient:
                refused[index] = failed(message, "recipient is not an email address", PROVIDER)
                continue
            if message.unsubscribe and not message.unsubscribe_token:
                refused[index] = failed(message, NO_UNSUBSCRIBE_TOKEN, PROVIDER)
                continue
            shape = self._shape(message)
            shared = self._shared(message, shape, shared_by_shape)
            subs = _substitutions(message, shared) if shared is not None else None
            if shared is None or subs is None:  # no shared content fits: rendered alone
                own = self._own(message, index, refused)
                if own is not None:
                    lone = Item(index, message, own.subject, own)
                    alone.append(Request([lone], own, message.categories))
                continue
            item: Item | None = None
            if self._quick(message, shape):
                if shape not in proven:
                    own = self._own(message, index, refused)
                    if own is None:
                        continue
                    proven[shape] = _reproduces(shared, subs, own) and (
                        _subject(message, shared) == own.subject
                    )
                if proven[shape]:
                    item = Item(index, message, _subject(message, shared), substitutions=subs)
            if item is None:
                own = self._own(message, index, refused)
                if own is None:
                    continue
                item = Item(index, message, own.subject, own)
                if not _reproduces(shared, subs, own):
                    alone.append(Request([item], own, message.categories))
                    continue
                item.substitutions = subs
            key = (message.categories, shared.text, shared.html)
            groups.setdefault(key, []).append(item)
            contents[key] = shared
        planned = [
            Request(group[i : i + self.batch_size], contents[key], key[0])
            for key, group in groups.items()
            for i in range(0, len(group), self.batch_size)
        ]
        return planned + alone, refused

    def _own(
        self, message: Message, index: int, refused: dict[int, SendResult]
    ) -> RenderedEmail | None:
        """The message rendered alone; None (and the reason in ``refused``) if it cannot be."""
        try:
            return self.renderer.email(message)
        except RenderError as err:
            refused[index] = failed(message, str(err), PROVIDER)
            return None

    def _quick(self, message: Message, shape: Any) -> bool:
        """May the message skip its own render: safe templates and plain values."""
        if not all(_plain(v) for v in _values(message).values()):
            return False
        key = (message.template, message.locale)
        if key not in self._safe:
            try:
                _, parts = self.renderer.templates_for("email", message.template, message.locale)
            except ConfigurationError:  # reported by the message's own render
                self._safe[key] = False
            else:
                names = [t.name for t in parts.values() if t.name]
                self._safe[key] = substitution_safe(self.renderer.env, names)
        return self._safe[key]

    @staticmethod
    def _shape(message: Message) -> tuple[Any, ...] | None:
        """What the shared render depends on; None when the link carries no token."""
        token = token_from_link(message.link)
        if not token or not message.link.rstrip("/").endswith(token):
            return None
        prefix = message.link.rstrip("/")[: -len(token)]
        return (
            message.template,
            message.locale,
            message.asks,  # the wording of the customer's own gaps is content, not a value
            bool(message.given_name),
            bool(message.family_name),
            message.code is not None,
            message.unsubscribe_token is not None,
            prefix,
        )

    def _shared(
        self, message: Message, shape: Any, cache: dict[Any, RenderedEmail | None]
    ) -> RenderedEmail | None:
        if shape is None:
            return None
        if shape not in cache:
            try:
                text = self._placeholder_render(message, shape[-1], "t")
                html = self._placeholder_render(message, shape[-1], "h")
                cache[shape] = RenderedEmail(subject=text.subject, text=text.text, html=html.html)
            except RenderError:
                cache[shape] = None
        return cache[shape]

    def _placeholder_render(self, message: Message, prefix: str, part: str) -> RenderedEmail:
        stand_in = replace(
            message,
            outreach_id=0,
            link=prefix + tag("token", part),
            given_name=tag("given", part) if message.given_name else None,
            family_name=tag("family", part) if message.family_name else None,
            code=tag("code", part) if message.code is not None else None,
            unsubscribe_token=tag("unsub", part) if message.unsubscribe_token else None,
        )
        return self.renderer.email(stand_in, reference=tag("ref", part))
