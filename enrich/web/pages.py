"""The HTML pages every customer-facing route answers with, in the page's language.

The environments are the renderer's (:class:`outreach.render.Renderer`), one per language with
its catalogue installed: HTML is autoescaped and a missing variable fails at render time
(``StrictUndefined``) instead of showing a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from enrich.settings import Settings
from enrich.web import csrf
from enrich.web.i18n import LANGUAGE_NAMES, PageText, choose_language
from enrich.web.ratelimit import SharedFixedWindow
from models.types import utcnow
from outreach.i18n import translations
from outreach.render import Renderer


@dataclass(frozen=True)
class Pages:
    """Renders ``templates/landing/`` pages in a language, with the settings of this app."""

    settings: Settings
    renderer: Renderer

    @property
    def languages(self) -> tuple[str, ...]:
        """The page languages: the supported locales with a catalogue, default first."""
        return tuple(dict.fromkeys(x.split("-")[0] for x in self.renderer.languages))

    def language(self, requested: object, message_locale: str | None = None) -> str:
        return choose_language(
            requested, message_locale, self.languages, self.settings.default_locale
        )

    def text(self, lang: str) -> PageText:
        return PageText(lang, translations(self.settings.templates_dir, lang))

    def render(
        self,
        name: str,
        lang: str,
        *,
        status: int = 200,
        nonce: str | None = None,
        switch: bool = False,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        page = self.renderer.env_for(lang).get_template(f"landing/{name}")
        names = [(c, LANGUAGE_NAMES.get(c, c)) for c in self.languages]
        # The reference of the customer's message, on the pages of routes that know it.
        context.setdefault("reference", None)
        html = page.render(
            lang=lang,
            organisation=self.settings.organisation_name,
            trust=self.renderer.trust,  # templates/landing/_trust.html, on every page
            switch=names if switch else None,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=headers)
        if nonce is not None:
            csrf.set_cookie(response, self.settings, nonce)
        return response

    def message(self, lang: str, key: str, heading_id: str, status: int, **kw: Any) -> HTMLResponse:
        text = self.text(lang)
        return self.render(
            "message.html",
            lang,
            status=status,
            heading=text[f"{key}_title"],
            heading_id=heading_id,
            body=text[f"{key}_text"],
            **kw,
        )

    def invalid(self, lang: str) -> HTMLResponse:
        """The one page for every link that opens nothing (unknown, expired, used up, or of a
        profile that objected): it must not say which."""
        return self.message(lang, "invalid", "link-invalid", 404, switch=True)

    def forbidden(self, lang: str) -> HTMLResponse:
        return self.message(lang, "forbidden", "forbidden", 403)


def rate_limited(
    request: Request, pages: Pages, limiter: SharedFixedWindow, lang: str
) -> HTMLResponse | None:
    """The 429 page when this client is over the limit, else None (the hit is counted).

    It writes to the database, so only plain ``def`` routes call it (FastAPI runs them in its
    thread pool). Behind a trusted proxy ``request.client`` is already the customer (see
    :mod:`enrich.web.app`).
    """
    wait = limiter.hit(request.client.host if request.client else "unknown", utcnow())
    if wait is None:
        return None
    return pages.message(lang, "too_many", "too-many", 429, headers={"Retry-After": str(wait)})


def page_language(
    request: Request, pages: Pages, asked: str | None = None, locale: str | None = None
) -> str:
    """The form's ``lang``, else the query's, else the locale of the customer's message (see
    :mod:`enrich.web.i18n`); an unsupported ``lang`` is ignored."""
    return pages.language(asked or request.query_params.get("lang"), locale)
