"""Renders every channel's messages from Jinja2 templates, in the customer's language.

One template per message, ``templates/<channel>/<name>.<part>``, its text marked for
translation (``{% trans %}``, ``{% pluralize %}``, ``_()``); the translations are the gettext
catalogues under ``templates/locales/`` (:mod:`outreach.i18n`):

- email: ``ask.subject.txt`` (one line), ``ask.txt`` (plain text), ``ask.html``
- sms: ``ask.txt`` (whitespace is collapsed to single spaces)
- letter: ``ask.html``, one page; it extends ``letter/_page.html`` (window field, QR code)
  and all pages of a batch are wrapped by ``letter/_document.html`` (page size, fonts)
- moment: ``ask.txt`` and ``ask.html`` (a fragment with inline styles): the block
  another system embeds in its own message at a contact moment
- asks: ``sentences.txt`` and ``short.txt`` (SMS), included by the templates above to
  name what this customer is asked (``asks``, :mod:`models.campaigns.asks`); ``genuine.txt``
  (``genuine.html`` escapes it, ``genuine_sms.txt`` is its SMS form): how to check a message
  is genuine, with its ``reference`` (:mod:`outreach.reference`) and ``trust``
  (:mod:`outreach.trust`)

Language: the exact locale (``nl-BE``) when it has a catalogue, then its language (``nl``),
then the default locale; the last is never silent: :meth:`Renderer.choice` gives the reason,
which the sender records on the message. Each language has its own environment with its
catalogue installed. A template missing is a :class:`ConfigurationError`; a template that fails
for one message (a missing variable) is a :class:`RenderError` naming template and variable,
never the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache
from gettext import NullTranslations
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from markupsafe import Markup

from models.answers.link_tokens import unsubscribe_link
from models.types import utcnow
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError, RenderError
from outreach.i18n import LocaleChoice, choose_locale, renderable_languages, translations
from outreach.letters import return_code
from outreach.qr import qr_png_data_uri
from outreach.reference import message_reference
from outreach.trust import trust_values

if TYPE_CHECKING:  # a runtime import would cycle: outreach.channels imports this module
    from outreach.channels.base import Message

__all__ = [
    "LocaleChoice",
    "RenderError",
    "RenderedEmail",
    "RenderedMoment",
    "Renderer",
]

# The parts of one message, per channel.
_PARTS = {
    "email": ("txt", "subject.txt", "html"),
    "sms": ("txt",),
    "letter": ("html",),
    # Not a channel: the re-ask block other systems embed at a contact moment.
    "moment": ("txt", "html"),
}
_LETTER_DOCUMENT = "letter/_document.html"
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedMoment:
    locale: str
    text: str
    html: str  # a fragment to embed, not a document


def normalise_locale(locale: str) -> str:
    """``nl_be`` / ``NL-be`` -> ``nl-BE``; the language lower case, the region upper case."""
    parts = [p for p in re.split(r"[-_]", locale.strip()) if p]
    if not parts:
        return ""
    return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])


@lru_cache(maxsize=64)
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale, sep="-")
    except (ValueError, UnknownLocaleError):
        return Locale.parse(locale.split("-")[0])


class Renderer:
    """One Jinja2 environment per language, for all channels; resolved templates are compiled
    once per language and kept."""

    def __init__(self, config: OutreachConfig) -> None:
        self.config = config
        self._default_locale = normalise_locale(config.default_locale)
        self.languages = renderable_languages(
            config.templates_dir, config.supported_locales, self._default_locale
        )
        self._envs: dict[str, Environment] = {}
        self._resolved: dict[tuple[str, str, str], tuple[str, dict[str, Template]]] = {}
        # The default language's: the landing page and the template checks use it.
        self.env = self.env_for(self._default_locale)

    def env_for(self, language: str) -> Environment:
        """The environment whose ``gettext`` speaks ``language`` (a language with a catalogue;
        anything else gets the default's)."""
        language = self.choice(language).locale
        env = self._envs.get(language)
        if env is None:
            env = Environment(
                loader=FileSystemLoader(self.config.templates_dir),
                autoescape=select_autoescape(enabled_extensions=("html", "xml"), default=False),
                undefined=StrictUndefined,
                auto_reload=False,
                extensions=["jinja2.ext.i18n"],
            )
            env.policies["ext.i18n.trimmed"] = True
            try:
                found = translations(self.config.templates_dir, language)
            except FileNotFoundError:  # a default without a catalogue: enrich check names it
                found = NullTranslations()
            env.install_gettext_translations(found, newstyle=True)  # type: ignore[attr-defined]
            self._envs[language] = env
        return env

    def choice(self, locale: str | None) -> LocaleChoice:
        """The language a message for ``locale`` is written in, and why when it is another."""
        return choose_locale(locale, self.languages, self._default_locale)

    # -- template lookup -------------------------------------------------------------------

    def templates_for(
        self, channel: str, name: str, locale: str
    ) -> tuple[str, dict[str, Template]]:
        """(chosen locale, {part: compiled template}) for one channel, template name and locale."""
        language = self.choice(locale).locale
        key = (channel, name, language)
        found = self._resolved.get(key)
        if found is None:
            found = language, self._resolve(channel, name, language)
            self._resolved[key] = found
        return found

    def require(self, channel: str, name: str) -> None:
        """Fail fast (ConfigurationError) when ``name`` has no template."""
        self.templates_for(channel, name, self._default_locale)

    def _resolve(self, channel: str, name: str, language: str) -> dict[str, Template]:
        if channel not in _PARTS:
            raise ConfigurationError(f"unknown channel {channel!r}")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigurationError(f"invalid template name {name!r}")
        env = self.env_for(language)
        parts = {}
        for part in _PARTS[channel]:
            try:
                parts[part] = self._load(env, f"{channel}/{name}.{part}")
            except TemplateNotFound as err:
                raise ConfigurationError(f"template {err.name} is missing") from err
        return parts

    @staticmethod
    def _load(env: Environment, path: str) -> Template:
        try:
            return env.get_template(path)
        except TemplateSyntaxError as err:
            raise ConfigurationError(
                f"template {path} line {err.lineno}: syntax error: {err.message}"
            ) from err

    # -- rendering ---------------------------------------------------------------------------

    def _context(
        self, message: Message, locale: str, today: date, reference: str | None = None
    ) -> dict[str, Any]:
        cfg = self.config
        given, family = message.given_name, message.family_name
        babel_locale = _babel_locale(locale)
        valid_until = today + timedelta(days=cfg.token_ttl_days)
        context: dict[str, Any] = {
            "outreach_id": message.outreach_id,
            "locale": locale,
            "given_name": given or None,
            "family_name": family or None,
            "full_name": " ".join(p for p in (given, family) if p) or None,
            "link": message.link,
            "code": message.code,
            "return_code": return_code(message.outreach_id),
            # What the customer matches and quotes when they check the message is genuine.
            "reference": reference or message_reference(message.channel, message.outreach_id),
            "trust": self.trust,
            "today": format_date(today, format="long", locale=babel_locale),
            # Tokens are issued just before rendering, so their expiry is today + ttl.
            "valid_until": format_date(valid_until, format="long", locale=babel_locale),
            "organisation": {
                "name": cfg.organisation_name,
                "address": list(cfg.organisation_address),
                "sender_name": cfg.sender_name,
                "sender_email": cfg.sender_email,
            },
            "extra": dict(cfg.extra),
            # The customer's own gaps, worded by templates/asks/ (empty: the generic wording).
            "asks": list(message.asks),
            # The incentive's headline (templates/asks/incentive.txt), None without one.
            "incentive": message.incentive,
        }
        if message.unsubscribe_token:
            # Without one the name stays undefined: a template using it fails to render.
            context["unsubscribe_url"] = unsubscribe_link(cfg.base_url, message.unsubscribe_token)
        return context

    @cached_property
    def trust(self) -> dict[str, str]:
        """How a customer checks a request is genuine (:mod:`outreach.trust`): ``trust`` in
        every message and on the landing page (the config is frozen: worked out once)."""
        cfg = self.config
        return trust_values(
            cfg.organisation_name, cfg.trust_phone, cfg.organisation_website, cfg.trust_web_path
        )

    @staticmethod
    def _render(template: Template, context: dict[str, Any]) -> str:
        name = template.name or "<template>"
        try:
            return template.render(context)
        except UndefinedError as err:
            match = _UNDEFINED.search(err.message or "")
            variable = (match.group(1) or match.group(2)) if match else None
            raise RenderError(
                f"template {name}: variable {variable or '?'} is undefined",
                template=name,
                variable=variable,
            ) from err
        except Exception as err:
            # The exception text may quote values; keep only its type.
            raise RenderError(
                f"template {name}: {type(err).__name__} while rendering", template=name
            ) from err

    def email(self, message: Message, *, reference: str | None = None) -> RenderedEmail:
        """``reference`` stands in for the message's own (SendGrid's placeholder render)."""
        locale, parts = self.templates_for("email", message.template, message.locale)
        ctx = self._context(message, locale, utcnow().date(), reference)
        subject = " ".join(self._render(parts["subject.txt"], ctx).split())
        return RenderedEmail(
            subject=subject,
            text=self._render(parts["txt"], ctx).strip() + "\n",
            html=self._render(parts["html"], ctx),
        )

    def sms(self, message: Message) -> str:
        locale, parts = self.templates_for("sms", message.template, message.locale)
        ctx = self._context(message, locale, utcnow().date())
        return " ".join(self._render(parts["txt"], ctx).split())

    def moment(
        self,
        name: str,
        locale: str,
        values: Mapping[str, Any],
        *,
        valid_until: date,
        outreach_id: int | None = None,
    ) -> RenderedMoment:
        """The block another system embeds at a contact moment (``templates/moment/``): plain
        text and an HTML fragment; ``values`` join ``locale``, ``valid_until``, the organisation,
        ``asks`` (none unless given), ``trust`` and the ``reference`` of ``outreach_id`` (None
        without one: the block then quotes none)."""
        chosen, parts = self.templates_for("moment", name, locale)
        cfg = self.config
        ctx = {
            "locale": chosen,
            "asks": [],
            "incentive": None,
            "valid_until": format_date(valid_until, format="long", locale=_babel_locale(chosen)),
            "organisation": {
                "name": cfg.organisation_name,
                "address": list(cfg.organisation_address),
                "sender_name": cfg.sender_name,
                "sender_email": cfg.sender_email,
            },
            "extra": dict(cfg.extra),
            "trust": self.trust,
            "reference": None if outreach_id is None else message_reference("moment", outreach_id),
            **values,
        }
        return RenderedMoment(
            locale=chosen,
            text=self._render(parts["txt"], ctx).strip() + "\n",
            html=self._render(parts["html"], ctx),
        )

    def letter_page(self, message: Message, *, today: date | None = None) -> str:
        """One letter's page as an HTML fragment (escaped); needs ``message.address``."""
        if message.address is None:
            raise RenderError("letter without a postal address", template=message.template)
        locale, parts = self.templates_for("letter", message.template, message.locale)
        ctx = self._context(message, locale, today or utcnow().date())
        ctx["address_lines"] = message.address.lines(origin_country=self.origin_country)
        ctx["return_address"] = " · ".join(
            [self.config.organisation_name, *self.config.organisation_address]
        )
        ctx["qr_src"] = qr_png_data_uri(message.link)
        return self._render(parts["html"], ctx)

    def letter_document(self, pages: Sequence[str]) -> str:
        """Wraps already rendered pages into one HTML document (page size, fonts, styles)."""
        try:
            document = self.env_for(self._default_locale).get_template(_LETTER_DOCUMENT)
        except TemplateNotFound as err:
            raise ConfigurationError(f"template {_LETTER_DOCUMENT} is missing") from err
        try:
            return self._render(document, {"pages": [Markup(p) for p in pages]})
        except RenderError as err:
            # The wrapper has no per-customer data: if it fails, it fails for every letter.
            raise ConfigurationError(str(err)) from err

    @property
    def origin_country(self) -> str:
        """Where letters are posted from; decides when a country line is printed."""
        return self.config.extra.get("origin_country", "NL")
