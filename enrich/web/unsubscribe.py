"""``/u/{token}``: the one-click unsubscribe of every email's ``List-Unsubscribe`` header.

RFC 8058: mail clients POST ``List-Unsubscribe=One-Click`` without cookies, so this form has no
CSRF token; it can only ever opt an address out. GET shows a button and changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from enrich.web.deps import ServicesDep, SessionDep
from enrich.web.forms import UnsubscribeForm
from enrich.web.pages import page_language, rate_limited
from models.answers.unsubscribe import unsubscribe
from models.types import utcnow

router = APIRouter(include_in_schema=False)  # a page, not an API


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, services: ServicesDep) -> Response:
    pages = services.pages
    lang = page_language(request, pages)
    if (limited := rate_limited(request, pages, services.limiter, lang)) is not None:
        return limited
    return pages.render("unsubscribe.html", lang, action=f"/u/{token}")


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe_post(
    token: str,
    form: Annotated[UnsubscribeForm, Form()],
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    pages = services.pages
    lang = page_language(request, pages, form.lang)
    if (limited := rate_limited(request, pages, services.limiter, lang)) is not None:
        return limited
    one_click = form.list_unsubscribe == "One-Click"
    result = unsubscribe(
        session=session,
        token=token,
        now=utcnow(),
        method="list-unsubscribe-post" if one_click else "unsubscribe-page",
    )
    if result.status == "invalid":
        return pages.invalid(lang)
    session.commit()
    return pages.message(lang, "unsubscribed", "unsubscribed", 200)
