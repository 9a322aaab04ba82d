"""``/u/{token}``: the one-click unsubscribe of every email's ``List-Unsubscribe`` header.

RFC 8058: mail clients POST ``List-Unsubscribe=One-Click`` without cookies, so this form has no
CSRF token; it can only ever opt an address out. GET shows a button and changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from enrich.web.deps import SessionDep, SettingsDep
from enrich.web.landing import invalid_page, message_page, page_language, rate_limited, render_page
from models.answers.unsubscribe import unsubscribe
from models.types import utcnow

router = APIRouter()


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, settings: SettingsDep) -> Response:
    lang = page_language(request)
    if (limited := rate_limited(request, settings, lang)) is not None:
        return limited
    return render_page(settings, "unsubscribe.html", lang, action=f"/u/{token}")


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_post(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    lang = page_language(request, form)
    if (limited := await run_in_threadpool(rate_limited, request, settings, lang)) is not None:
        return limited
    one_click = form.get("List-Unsubscribe") == "One-Click"
    result = unsubscribe(
        session=session,
        token=token,
        now=utcnow(),
        method="list-unsubscribe-post" if one_click else "unsubscribe-page",
    )
    if result.status == "invalid":
        return invalid_page(settings, lang)
    session.commit()
    return message_page(settings, lang, "unsubscribed", "unsubscribed", 200)
